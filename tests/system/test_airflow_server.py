"""End to end on a real Airflow 3 deployment: trigger the classic-days DAG over the REST API, as the UI does.

The api-server, scheduler and dag-processor run as separate processes (``tests/airflow_server.py``);
the tasks run under the LocalExecutor and write a DuckDB file that the test reads afterwards.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil
import pytest

from tests.support.airflow import OPENLINEAGE_EVENTS, AirflowServer, airflow_server, json_or_text
from tests.support.sources import DAY_3_COUNTS

pytestmark = pytest.mark.slow

DAG_ID = "source_simulator_classic_days"
FAILED = {"failed", "upstream_failed"}


def trigger(server: AirflowServer, dag_id: str) -> str:
    """Unpause and trigger the DAG with no logical date, as the UI's Trigger button does; return the run id."""
    unpaused = server.http.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    assert unpaused.status_code == 200, json_or_text(unpaused)
    triggered = server.http.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
    assert triggered.status_code == 200, json_or_text(triggered)
    return str(triggered.json()["dag_run_id"])


def task_states(server: AirflowServer, dag_id: str, run_id: str) -> dict[str, str | None]:
    response = server.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    return {ti["task_id"]: ti["state"] for ti in response.json()["task_instances"]}


def wait_for_run(server: AirflowServer, dag_id: str, run_id: str, timeout: float) -> None:
    """Wait for the run to succeed; a failed task or a timeout fails the test with the task states and logs."""
    deadline = time.monotonic() + timeout
    state, states = None, {}
    while True:
        server.check_alive()
        state = server.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
        if state == "success":
            return
        states = task_states(server, dag_id, run_id)
        # The scheduler marks the run failed some seconds after its task: no need to wait for that.
        if state == "failed" or FAILED & set(states.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    pytest.fail(
        f"run {run_id} is {state!r} after {timeout - (deadline - time.monotonic()):.0f} s "
        f"(timeout {timeout:.0f} s)\ntask states: {states}\n"
        f"{server.task_logs(dag_id, run_id)}\n{server.logs()}"
    )


def return_value(server: AirflowServer, dag_id: str, run_id: str, task_id: str) -> Any:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
    response = server.http.get(path)
    assert response.status_code == 200, json_or_text(response)
    # Without ?deserialize the API returns the value as stored: a JSON-serialisable dict stays a dict.
    return response.json()["value"]


def test_classic_days_run_on_a_real_airflow_server(tmp_path: Path) -> None:
    with airflow_server(tmp_path) as server:
        # The REST API really is behind authentication: the JWT is what lets the test in.
        assert httpx.get(f"{server.base_url}/api/v2/dags/{DAG_ID}").status_code == 401
        server.wait_for_dag(DAG_ID, timeout=60)
        run_id = trigger(server, DAG_ID)
        wait_for_run(server, DAG_ID, run_id, timeout=90)
        assert task_states(server, DAG_ID, run_id) == dict.fromkeys(
            ["reset", "apply_day_1", "apply_day_2", "apply_day_3", "status"], "success"
        )
        status = return_value(server, DAG_ID, run_id, "status")
        pids = server.pids()

    assert status["day"] == 3
    assert status["profile"] == "classic"
    assert status["verified"] is True
    assert status["tables"] == DAY_3_COUNTS
    # The openlineage provider's listener took each task's datasets from the operators.
    complete = {}
    for line in (server.home / OPENLINEAGE_EVENTS).read_text().splitlines():
        event = json.loads(line)
        job = event.get("job", {}).get("name", "")
        if event.get("eventType") == "COMPLETE" and job.startswith(f"{DAG_ID}."):
            complete[job.removeprefix(f"{DAG_ID}.")] = event
    assert set(complete) >= {"reset", "apply_day_1", "apply_day_2", "apply_day_3", "status"}
    reset = {o["name"]: o for o in complete["reset"]["outputs"]}
    assert sorted(reset) == sorted(f"source.{name}" for name in DAY_3_COUNTS)
    assert {o["namespace"] for o in reset.values()} == {"duckdb"}
    assert {o["facets"]["lifecycleStateChange"]["lifecycleStateChange"] for o in reset.values()} == {"OVERWRITE"}
    assert reset["source.jaffle_shop.customers"]["outputFacets"]["outputStatistics"]["rowCount"] == 100
    day_3 = {o["name"]: o for o in complete["apply_day_3"]["outputs"]}
    assert "lifecycleStateChange" not in day_3["source.jaffle_shop.customers"]["facets"]
    assert sorted(i["name"] for i in complete["status"]["inputs"]) == sorted(reset)
    with duckdb.connect(str(server.source_database), read_only=True) as source:
        assert source.execute("select count(*) from jaffle_shop.customers").fetchone() == (175,)
    assert server.remaining_processes() == []
    assert [name for name, pid in pids.items() if psutil.pid_exists(pid)] == []
