"""The ``source_simulator`` connection type: a form with the simulator's hints, and a platform field
that picks the engine whose own hook does the work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.operators.simulator import LoadBaselineOperator, StatusOperator
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.sessions.postgres import PostgresSession
from airflow_source_simulator.sessions.registry import session_for_connection
from tests.support.dags import NO_CONTEXT


def test_the_provider_registers_the_form_with_hints_and_a_platform_choice(airflow_db: Path) -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.hooks["source_simulator"].connection_type == "source_simulator"  # type: ignore[union-attr]
    behaviour = manager.field_behaviours["source_simulator"]
    assert behaviour["relabeling"]["host"] == "Host, or DuckDB database file"
    assert "/data/source.duckdb" in behaviour["placeholders"]["host"]
    platform = manager.connection_form_widgets["extra__source_simulator__platform"]
    assert platform.field["schema"]["enum"] == ["duckdb", "postgres", "mssql", "databricks"]


def test_a_source_simulator_connection_on_duckdb_runs_the_operators(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "source.duckdb"
    connection = {"conn_type": "source_simulator", "host": str(path), "extra": {"platform": "duckdb"}}
    monkeypatch.setenv("AIRFLOW_CONN_SIMULATED", json.dumps(connection))
    assert isinstance(session_for_connection("simulated"), DuckDBSession)
    LoadBaselineOperator(task_id="load", conn_id="simulated").execute(NO_CONTEXT)
    status = StatusOperator(task_id="status", conn_id="simulated", verify=True).execute(NO_CONTEXT)
    assert status["day"] == 0 and status["verified"] is True


def test_the_form_s_prefixed_field_name_is_read_too(monkeypatch: pytest.MonkeyPatch, postgres: Any) -> None:
    extra = {"extra__source_simulator__platform": "postgres"}
    connection = {"conn_type": "source_simulator", "host": "127.0.0.1", "port": postgres.port, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_SIMULATED", json.dumps(connection))
    assert isinstance(session_for_connection("simulated"), PostgresSession)


@pytest.mark.parametrize("platform", [None, "oracle", ""])
def test_a_missing_or_unknown_platform_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, platform: Any) -> None:
    extra = {} if platform is None else {"platform": platform}
    monkeypatch.setenv("AIRFLOW_CONN_SIMULATED", json.dumps({"conn_type": "source_simulator", "extra": extra}))
    with pytest.raises(SimulatorError, match=f"platform={platform!r}.*duckdb, postgres, mssql, databricks"):
        session_for_connection("simulated")
