"""
### On-demand operations from the Airflow UI

Trigger with the form: pick an operation (load the baseline, apply a day, reset, or show the status)
and, for `apply_delta`, the day. Only the chosen operation's task runs; the others are skipped.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_source_simulator import ApplyDeltaOperator, LoadBaselineOperator, ResetOperator, StatusOperator

OPERATIONS = ["load_baseline", "apply_delta", "reset", "status"]

with DAG(
    dag_id="source_simulator_on_demand",
    description="Run one simulator operation chosen in the trigger form.",
    schedule=None,
    start_date=pendulum.datetime(2024, 4, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "operation": Param(
            "status",
            type="string",
            enum=OPERATIONS,
            title="Operation",
            description="load_baseline, apply_delta (uses Day), reset, or status.",
        ),
        "day": Param(
            1,
            type="integer",
            minimum=1,
            maximum=3,
            title="Day",
            description="The day apply_delta applies (1-3, in order).",
        ),
    },
    tags=["source-simulator", "example"],
    doc_md=__doc__,
):

    @task.branch
    def choose_operation(params: dict | None = None) -> str:
        assert params is not None
        return str(params["operation"])

    choose_operation() >> [
        LoadBaselineOperator(task_id="load_baseline"),
        ApplyDeltaOperator(task_id="apply_delta", day="{{ params.day }}"),
        ResetOperator(task_id="reset"),
        StatusOperator(task_id="status"),
    ]
