"""The Databricks tier: one local Spark Thrift server with Delta Lake for the whole run, reached through
``DatabricksSqlHook`` and databricks-sql-connector as a warehouse is (tests/support/local_databricks.py says what
is bridged), each test in schemas of its own, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_source_simulator.sessions.registry import session_for_connection
from airflow_source_simulator.simulator import Simulator
from tests.support.local_databricks import adapt, databricks_connection
from tests.support.spark_server import SparkServer, spark_server, unavailable

SimulatorFactory = Callable[..., Simulator]


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkServer]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with spark_server(tmp_path_factory.mktemp("spark")) as server:
        yield server


@pytest.fixture
def dbx_conn_id(spark: SparkServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection of type databricks to the local server, with the connector adapted to it."""
    adapt(monkeypatch)
    return databricks_connection(monkeypatch, spark)


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_simulator(dbx_conn_id: str, prefix: str) -> Iterator[SimulatorFactory]:
    """Simulators of sources in this test's own schemas (``<prefix>_shop``, ``<prefix>_crm``), through a fresh
    session each, as each task of a DAG opens its own; the schemas are dropped afterwards."""

    made: list[Simulator] = []

    def make(**kwargs: Any) -> Simulator:
        simulator = Simulator(
            session_for_connection(dbx_conn_id), shop_schema=f"{prefix}_shop", crm_schema=f"{prefix}_crm", **kwargs
        )
        made.append(simulator)
        return simulator

    yield make
    session = session_for_connection(dbx_conn_id)
    rows = session.query("SHOW SCHEMAS")
    ours = [str(r[0]) for r in rows if str(r[0]).startswith(prefix)]
    if ours:
        session.hook.run([f"DROP SCHEMA IF EXISTS {session.dialect.quote(s)} CASCADE" for s in ours])
    # The hook keeps the connection its reads opened; closed now, while the server runs (at exit, closing it
    # would retry against a stopped server for seconds).
    for simulator in made:
        conn = getattr(simulator.session.hook, "_sql_conn", None)
        if conn is not None:
            conn.close()
