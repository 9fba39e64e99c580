"""How each session is built from an Airflow connection: the hooks, their settings, and refusals before
anything is opened."""

from __future__ import annotations

import pytest

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.sessions.databricks import RETRY_BOUNDS, DatabricksSession
from airflow_source_simulator.sessions.mssql import MsSqlSession
from airflow_source_simulator.sessions.postgres import PostgresSession
from airflow_source_simulator.sessions.registry import session_for_connection
from airflow_source_simulator.simulator import Simulator
from tests.support.connections import connection, databricks


def test_a_databricks_connection_builds_the_sql_hook_with_catalog_warehouse_and_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.providers.databricks.hooks.databricks_sql import DatabricksSqlHook

    platform = session_for_connection(databricks(monkeypatch, catalog="sources"))
    assert isinstance(platform, DatabricksSession) and isinstance(platform.hook, DatabricksSqlHook)
    assert platform.hook.catalog == "sources"
    assert platform.hook._http_path == "/sql/1.0/warehouses/abc"
    assert platform.hook.session_config == {"spark.sql.session.timeZone": "UTC"}
    assert platform.hook.additional_params == RETRY_BOUNDS


def test_a_databricks_session_time_zone_other_than_utc_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    zone = {"spark.sql.session.timeZone": "Europe/Paris", "spark.sql.ansi.enabled": "true"}
    with pytest.raises(
        SimulatorError, match=r"spark\.sql\.session\.timeZone='Europe/Paris'.*Remove it, or set it to 'UTC'"
    ):
        session_for_connection(databricks(monkeypatch, session_configuration=zone))
    kept = {"spark.sql.session.timeZone": "utc", "spark.sql.ansi.enabled": "true"}
    platform = session_for_connection(databricks(monkeypatch, session_configuration=kept))
    assert platform.hook.session_config == kept  # the user's other settings ride along


def test_a_databricks_connection_extra_overrides_the_retry_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = session_for_connection(databricks(monkeypatch, _retry_stop_after_attempts_duration=600))
    assert "_retry_stop_after_attempts_duration" not in platform.hook.additional_params  # the extra's own value rules


def test_a_databricks_connection_without_a_warehouse_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = connection(monkeypatch, "dbx", conn_type="databricks", host="adb-1.azuredatabricks.net", password="t")
    with pytest.raises(SimulatorError, match="names no SQL warehouse: set extra http_path"):
        session_for_connection(conn_id)


def test_a_sql_server_connection_builds_the_mssql_hook_on_the_connections_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.providers.microsoft.mssql.hooks.mssql import MsSqlHook

    conn_id = connection(
        monkeypatch, "azure_sql", conn_type="mssql", host="srv.database.windows.net", schema="sources", login="u"
    )
    platform = session_for_connection(conn_id)
    assert isinstance(platform, MsSqlSession) and isinstance(platform.hook, MsSqlHook)
    assert platform.hook.get_connection(conn_id).schema == "sources"


def test_a_postgres_connection_builds_the_postgres_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    platform = session_for_connection(connection(monkeypatch, "pg", conn_type="postgres", host="localhost"))
    assert isinstance(platform, PostgresSession) and isinstance(platform.hook, PostgresHook)


def test_schema_names_fold_to_lower_case_on_unity_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    simulator = Simulator(session_for_connection(databricks(monkeypatch)), shop_schema="Jaffle_Shop")
    assert simulator.schemas["shop"] == "jaffle_shop"


@pytest.mark.parametrize(
    "fields",
    [
        {"host": ":memory:"},
        {"host": ":memory:named"},
        {"host": "   "},
        {"extra": {"database": ":memory:"}},
        {"extra": {"database": ":memory:x"}, "host": "/data/ignored.duckdb"},
    ],
    ids=["host", "named host", "blank host", "extra database", "extra database over a host"],
)
def test_every_spelling_of_an_in_memory_duckdb_database_is_refused(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, object]
) -> None:
    conn_id = connection(monkeypatch, "memory", conn_type="duckdb", **fields)
    with pytest.raises(SimulatorError, match="an in-memory database that vanishes when the task ends"):
        session_for_connection(conn_id)
