"""Databricks SQL warehouses and clusters, through ``DatabricksSqlHook`` with bounded retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_source_simulator.dialects.databricks import DATABRICKS
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.sessions.base import Session

if TYPE_CHECKING:
    from airflow.sdk import Connection

# The SQL connector retries an unreachable workspace for 15 minutes by default; these bound it to
# seconds. A connection's extra may set its own values (e.g. for a warehouse that has to cold-start).
RETRY_BOUNDS: dict[str, Any] = {
    "_retry_stop_after_attempts_count": 2,
    "_retry_stop_after_attempts_duration": 15.0,
    "_retry_delay_max": 5.0,
    "_socket_timeout": 60,
}
# TIMESTAMP is read and written in the session's time zone: pin it, so digests match every engine.
SESSION_CONFIGURATION = {"spark.sql.session.timeZone": "UTC"}


class DatabricksSession(Session):
    dialect = DATABRICKS
    conn_types = ("databricks",)
    connect_hint = (
        ". Check the connection's host, token and http_path; for a SQL warehouse that must start first, raise "
        "_retry_stop_after_attempts_duration (seconds) in the connection extra."
    )

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> DatabricksSession:
        # conn_type "databricks" resolves to the REST DatabricksHook: build the SQL hook directly.
        from airflow.providers.databricks.hooks.databricks_sql import DatabricksSqlHook

        extra = connection.extra_dejson
        if not connection.host:
            raise SimulatorError(f"Databricks connection {conn_id!r} has no host: set it to the workspace host name.")
        if not (extra.get("http_path") or extra.get("sql_endpoint_name")):
            raise SimulatorError(
                f"Databricks connection {conn_id!r} names no SQL warehouse: set extra http_path (for example "
                '"/sql/1.0/warehouses/<id>") or sql_endpoint_name.'
            )
        configuration = {**SESSION_CONFIGURATION, **(extra.get("session_configuration") or {})}
        for key, value in SESSION_CONFIGURATION.items():
            if str(configuration[key]).upper() != value:
                raise SimulatorError(
                    f"Databricks connection {conn_id!r} sets {key}={configuration[key]!r} in its extra's "
                    f"session_configuration; the simulator reads and writes TIMESTAMP in {value}, so that every "
                    f"engine holds the same values and digests. Remove it, or set it to {value!r}."
                )
        retries = {key: value for key, value in RETRY_BOUNDS.items() if key not in extra}
        return cls(
            DatabricksSqlHook(
                databricks_conn_id=conn_id,
                http_path=extra.get("http_path"),
                sql_endpoint_name=extra.get("sql_endpoint_name"),
                catalog=extra.get("catalog"),
                session_configuration=configuration,
                **retries,
            )
        )

    def cancel(self, conn: Any) -> None:
        # The connector cancels per cursor (its Connection has no cancel): cancel the command each open cursor of
        # the held connection is running. The hook opens one cursor per run(), so that is the running statement.
        for cursor in list(getattr(conn, "_cursors", ())):
            cursor.cancel()
