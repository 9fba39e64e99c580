"""Test fixtures. Airflow reads its configuration at import, so the environment is set here first."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

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

from airflow_source_simulator.platforms.duckdb import DuckDBPlatform  # noqa: E402
from airflow_source_simulator.simulator import Simulator  # noqa: E402


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


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "source.duckdb"


SimulatorFactory = Callable[..., Simulator]


@pytest.fixture
def make_simulator(tmp_path: Path) -> SimulatorFactory:
    """Simulators on real DuckDB files under the test's temporary folder."""

    def make(path: Path | None = None, **kwargs: object) -> Simulator:
        database = str(path or tmp_path / "source.duckdb")
        return Simulator(DuckDBPlatform.for_database(database), **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def simulator(make_simulator: SimulatorFactory) -> Simulator:
    return make_simulator()


@pytest.fixture
def duckdb_connection(monkeypatch: pytest.MonkeyPatch, duckdb_path: Path) -> str:
    """An Airflow connection (from the environment) to a fresh DuckDB file; returns its id."""
    monkeypatch.setenv("AIRFLOW_CONN_SIM_SOURCE", f'{{"conn_type": "duckdb", "host": "{duckdb_path}"}}')
    return "sim_source"
