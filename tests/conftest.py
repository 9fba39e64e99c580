"""Test fixtures. Airflow reads its configuration at import, so the environment is set here first."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="source-simulator-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
)

from airflow_source_simulator.sessions.duckdb import DuckDBSession  # noqa: E402
from airflow_source_simulator.simulator import Simulator  # noqa: E402
from tests.support.harness import DuckDBSource, PostgresSource, Source  # noqa: E402
from tests.support.postgres import PostgresServer, postgres_server  # noqa: E402
from tests.support.sources import SimulatorFactory, postgres_session  # noqa: E402

_DATABASES = itertools.count()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated sqlite metadata database, once per session (needed by dag.test())."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME


@pytest.fixture(scope="module")
def dagbag(airflow_db: Path) -> Any:
    """The example DAGs, parsed and written to the metadata database (as the DAG processor would)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(REPO / "example_dags"))
    sync_bag_to_db(bag, "dags-folder", None)
    return bag


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "source.duckdb"


@pytest.fixture
def make_simulator(tmp_path: Path) -> SimulatorFactory:
    """Simulators on real DuckDB files under the test's temporary folder."""

    def make(path: Path | None = None, **kwargs: object) -> Simulator:
        database = str(path or tmp_path / "source.duckdb")
        return Simulator(DuckDBSession.for_database(database), **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def simulator(make_simulator: SimulatorFactory) -> Simulator:
    return make_simulator()


@pytest.fixture
def duckdb_connection(monkeypatch: pytest.MonkeyPatch, duckdb_path: Path) -> str:
    """An Airflow connection (from the environment) to a fresh DuckDB file; returns its id."""
    monkeypatch.setenv("AIRFLOW_CONN_SIM_SOURCE", f'{{"conn_type": "duckdb", "host": "{duckdb_path}"}}')
    return "sim_source"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL cluster on a loopback port, for the whole session."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_database(postgres: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh database on the private cluster; returns its name."""
    import psycopg

    database = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50] + f"_{next(_DATABASES)}"
    with psycopg.connect(postgres.uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    return database


@pytest.fixture
def pg_conn_id(postgres: PostgresServer, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fresh database as an Airflow connection (from the environment); returns its id."""
    monkeypatch.setenv("AIRFLOW_CONN_SIM_PG", postgres.airflow_connection(pg_database))
    return "sim_pg"


@pytest.fixture
def pg_simulator(pg_conn_id: str) -> Simulator:
    return Simulator(postgres_session(pg_conn_id))


@pytest.fixture(params=["duckdb", "postgres"])
def source(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Source]:
    """A fresh, empty source on DuckDB (a file) or PostgreSQL (a database on the private cluster), which can
    be saved, put back, read back, and written by statements of a user's own."""
    if request.param == "duckdb":
        yield DuckDBSource(tmp_path)
        return
    server = request.getfixturevalue("postgres")
    database = PostgresSource(server, f"source_{next(_DATABASES)}", monkeypatch)
    yield database
    database.drop()
