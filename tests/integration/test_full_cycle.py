"""The whole cycle — load, days 1-3 verified, repeats, reset — on every platform a connection is given for.

DuckDB and PostgreSQL run always (a file; a private cluster the tests start). SQL Server / Azure SQL, Databricks and
MotherDuck cannot run here: give a real server as an Airflow connection (JSON or URI) in an environment
variable, and the same test runs against it in its own freshly named schemas, dropped afterwards:

    SOURCE_SIMULATOR_TEST_MSSQL='{"conn_type": "mssql", "host": "...", "login": "...", "password": "...", "schema": "db"}'
    SOURCE_SIMULATOR_TEST_DATABRICKS='{"conn_type": "databricks", "host": "adb-....azuredatabricks.net",
        "password": "dapi...", "extra": {"http_path": "/sql/1.0/warehouses/...", "catalog": "main"}}'
    SOURCE_SIMULATOR_TEST_MOTHERDUCK='{"conn_type": "duckdb", "schema": "my_db", "password": "<token>",
        "extra": {"autoinstall_extensions": true}}'
"""

from __future__ import annotations

import os
import uuid

import pytest

from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.sessions.base import Session
from airflow_source_simulator.sessions.registry import session_for_connection
from airflow_source_simulator.simulator import Simulator

REMOTE = {
    "mssql": "SOURCE_SIMULATOR_TEST_MSSQL",
    "databricks": "SOURCE_SIMULATOR_TEST_DATABRICKS",
    "motherduck": "SOURCE_SIMULATOR_TEST_MOTHERDUCK",
}
CDC = {"duckdb": False, "postgres": True, "mssql": True, "databricks": True, "motherduck": False}


def drop_statements(session: Session, simulator: Simulator) -> list[str]:
    """Clean-up of the test's own schemas (T-SQL drops tables before their schema)."""
    schemas = [session.dialect.quote(s) for s in simulator.schemas.values()]
    if session.name != "mssql":
        return [f"DROP SCHEMA IF EXISTS {s} CASCADE" for s in schemas]
    tables = [f"DROP TABLE IF EXISTS {simulator.ref(t)}" for t in reversed(TABLES)]
    return [
        *tables,
        f"DROP TABLE IF EXISTS {schemas[0]}.source_simulator_ledger",
        *(f"DROP SCHEMA {s}" for s in schemas),
    ]


@pytest.fixture(params=["duckdb", "postgres", *REMOTE])
def conn_id(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    local = {"duckdb": "duckdb_connection", "postgres": "pg_conn_id"}
    if request.param in local:
        return str(request.getfixturevalue(local[request.param]))
    value = os.environ.get(REMOTE[request.param])
    if not value:
        pytest.skip(f"set {REMOTE[request.param]} to an Airflow connection to run against a real {request.param}")
    monkeypatch.setenv("AIRFLOW_CONN_SIM_REMOTE", value)
    return "sim_remote"


def test_the_whole_cycle_verifies_at_every_state(conn_id: str, request: pytest.FixtureRequest) -> None:
    platform_name = request.node.callspec.params["conn_id"]
    prefix = f"sim_{uuid.uuid4().hex[:8]}"
    simulator = Simulator(
        session_for_connection(conn_id),
        shop_schema=f"{prefix}_shop",
        crm_schema=f"{prefix}_crm",
        enable_cdc=CDC[platform_name],
    )
    try:
        assert simulator.load_baseline()["tables"][f"{prefix}_shop.customers"] == 100
        assert simulator.status(verify=True)["verified"]
        for day in (1, 2, 3):
            simulator.apply_delta(day)
            assert simulator.status(verify=True)["verified"], f"day {day}"
        assert simulator.apply_delta(3)["changed"] is False
        assert simulator.load_baseline()["changed"] is False
        assert simulator.reset()["day"] == 0
        assert simulator.status(verify=True)["verified"]
    finally:
        session = simulator.session
        session.hook.run(drop_statements(session, simulator), autocommit=True)
