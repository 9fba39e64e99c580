"""A task Airflow stops (SIGTERM, as when a task is marked failed or times out) ends promptly in the old state:
the operators' on_kill cancels the running operation instead of letting it run on until SIGKILL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator

pytestmark = pytest.mark.slow

DAG = """
import datetime as dt
from airflow.sdk import DAG
from airflow_source_simulator import ApplyDeltaOperator

with DAG("stop_me", start_date=dt.datetime(2024, 4, 1), schedule=None, catchup=False, max_active_runs=1):
    ApplyDeltaOperator(task_id="fast_forward", day=3, fast_forward=True, scale=1000)
"""
STARTED = "Fast-forwarding to day 03..."
STOPPED = "Fast-forwarding to day 03 was stopped. Nothing was changed: the database is still not loaded"


def test_a_sigterm_stops_a_running_operation_promptly_and_changes_nothing(airflow_db: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.duckdb"
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "stop_me.py").write_text(DAG)
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW_CONN_DUCKDB_DEFAULT": f'{{"conn_type": "duckdb", "host": "{source}"}}',
    }
    airflow = Path(sys.executable).parent / "airflow"
    task = subprocess.Popen(
        [str(airflow), "dags", "test", "stop_me"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert task.stdout is not None
    output, terminated = [], 0.0
    try:
        for line in task.stdout:
            output.append(line)
            if not terminated and STARTED in line:
                time.sleep(0.3)  # into the load: its rows are going in
                task.send_signal(signal.SIGTERM)
                terminated = time.monotonic()
        task.wait(timeout=60)
    finally:
        task.kill()
    log = "".join(output)
    assert terminated, f"the operation never started:\n{log[-3000:]}"
    assert STOPPED in log, log[-3000:]
    assert "Fast-forwarding to day 03 done" not in log
    stopped_after = _seconds(log, "Stop requested", STOPPED)
    assert stopped_after < 3.0, f"the operation took {stopped_after:.1f} s to stop"
    status = Simulator(DuckDBSession.for_database(str(source)), scale=1000).status()
    assert status["day"] is None and set(status["tables"].values()) == {None}, "no table may be left behind"


def _seconds(log: str, first: str, last: str) -> float:
    """Seconds between the log lines holding ``first`` and ``last`` (their ISO timestamps)."""

    def stamp(text: str) -> float:
        line = next(line for line in log.splitlines() if text in line)
        match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:(\d\d\.\d+))Z", line)
        assert match, line
        minutes = int(match.group(1)[14:16])
        return minutes * 60 + float(match.group(2))

    return stamp(last) - stamp(first)
