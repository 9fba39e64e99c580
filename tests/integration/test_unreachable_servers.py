"""Servers that cannot be reached fail quickly, naming the engine: the real drivers against closed loopback ports."""

from __future__ import annotations

import time

import pytest

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.sessions.registry import session_for_connection
from airflow_source_simulator.simulator import Simulator
from tests.support.connections import connection, databricks


def test_an_unreachable_databricks_workspace_fails_within_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real SQL connector against a closed loopback port: bounded retries, then a clear message."""
    simulator = Simulator(session_for_connection(databricks(monkeypatch)))
    started = time.monotonic()
    with pytest.raises(SimulatorError, match=r"could not connect to Databricks: .*http_path.*_retry_stop_after"):
        simulator.status()
    assert time.monotonic() - started < 30


def test_an_unreachable_postgres_server_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = connection(monkeypatch, "pg", conn_type="postgres", host="127.0.0.1", port=1, login="x")
    with pytest.raises(SimulatorError, match="could not connect to PostgreSQL"):
        Simulator(session_for_connection(conn_id)).status()
