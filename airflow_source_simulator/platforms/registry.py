"""Which platform serves which Airflow connection type."""

from __future__ import annotations

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.hooks.source_simulator import CONN_TYPE, platform_of
from airflow_source_simulator.platforms.base import Platform
from airflow_source_simulator.platforms.databricks import DatabricksPlatform
from airflow_source_simulator.platforms.duckdb import DuckDBPlatform
from airflow_source_simulator.platforms.mssql import MsSqlPlatform
from airflow_source_simulator.platforms.postgres import PostgresPlatform

PLATFORMS: tuple[type[Platform], ...] = (DuckDBPlatform, PostgresPlatform, MsSqlPlatform, DatabricksPlatform)


def platform_for_conn_type(conn_type: str | None) -> type[Platform]:
    for platform in PLATFORMS:
        if conn_type in platform.conn_types:
            return platform
    supported = ", ".join(sorted(t for p in PLATFORMS for t in p.conn_types))
    raise SimulatorError(
        f"connection type {conn_type!r} is not supported by the source simulator; supported: {supported}."
    )


def platform_for_connection(conn_id: str) -> Platform:
    """The platform of an Airflow connection, with its hook. Reads the connection; opens nothing."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise SimulatorError(
            f"Airflow connection {conn_id!r} does not exist. Create it, for example with "
            f'AIRFLOW_CONN_{conn_id.upper()}=\'{{"conn_type": "duckdb", "host": "/path/to/source.duckdb"}}\'.'
        ) from None
    conn_type = connection.conn_type
    if conn_type == CONN_TYPE:  # the simulator's own form: its platform field names the engine
        chosen = platform_of(connection.extra_dejson)
        names = {p.name: p for p in PLATFORMS}
        if chosen not in names:
            raise SimulatorError(
                f"connection {conn_id!r} (type {CONN_TYPE}) has platform={chosen!r}; set its platform to one of "
                f"{', '.join(names)}."
            )
        return names[chosen].from_connection(conn_id, connection)
    return platform_for_conn_type(conn_type).from_connection(conn_id, connection)
