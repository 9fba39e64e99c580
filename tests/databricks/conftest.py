"""The Databricks tier: one local Spark Thrift server with Delta Lake for the whole run, reached through
``DatabricksSqlHook`` and databricks-sql-connector as a warehouse is (tests/support/local_databricks.py says what
is bridged), each test in schemas of its own, dropped afterwards.

Under pytest-xdist (``make databricks`` runs two workers) the controlling process starts the one server and hands
its address to the workers: the tier's two scenarios then run side by side on it, as two DAGs would on one
warehouse, and the server works on both cores instead of waiting on one client's round trips. Run without
workers, the session starts the server itself.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from airflow_source_simulator.sessions.registry import session_for_connection
from airflow_source_simulator.simulator import Simulator
from tests.support.local_databricks import adapt, databricks_connection
from tests.support.spark_server import SparkServer, spark_server, unavailable

SimulatorFactory = Callable[..., Simulator]
SHARED = "source_simulator_spark_server"  # the key of the server's address in each worker's input
_STARTED = pytest.StashKey[tuple[ExitStack, SparkServer]]()


def _workers(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)  # before xdist starts the workers (its own hook runs last)
def pytest_sessionstart(session: pytest.Session) -> None:
    if not _workers(session.config) or unavailable():
        return  # no workers: the fixture starts the server; no Java: each worker skips, saying why
    with ExitStack() as stack:  # a server that fails to start leaves no folder behind
        folder = Path(tempfile.mkdtemp(prefix="source-simulator-spark-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        server = stack.enter_context(spark_server(folder))
        session.config.stash[_STARTED] = (stack.pop_all(), server)


def pytest_configure_node(node: Any) -> None:
    """Give a worker the address of the server the controlling process started."""
    started = node.config.stash.get(_STARTED, None)
    if started is not None:
        node.workerinput[SHARED] = json.dumps({"port": started[1].port, "folder": str(started[1].folder)})


def pytest_sessionfinish(session: pytest.Session) -> None:
    started = session.config.stash.get(_STARTED, None)
    if started is not None:
        started[0].close()


@pytest.fixture(scope="session")
def spark(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkServer]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    shared = getattr(request.config, "workerinput", {}).get(SHARED)
    if shared is not None:
        given = json.loads(shared)
        yield SparkServer(int(given["port"]), Path(given["folder"]))
        return
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
