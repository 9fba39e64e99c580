"""
### On-demand operations from the Airflow UI

Trigger with the form: pick an operation (load the baseline, apply a day, reset, or show the status),
the day for `apply_delta` (and whether to fast-forward to it), and the scale. Only the chosen
operation's task runs; the others are skipped.
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
    # Params keep their types in templates: day and scale render as integers, fast_forward as a bool.
    render_template_as_native_obj=True,
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
            maximum=3650,
            title="Day",
            description="The day apply_delta applies: 1-3 are the classic days, later ones are generated.",
        ),
        "fast_forward": Param(
            False,
            type="boolean",
            title="Fast-forward",
            description="Build the day directly when the database is further behind (no replay).",
        ),
        "scale": Param(
            1,
            type="integer",
            minimum=1,
            maximum=100_000,
            title="Scale",
            description="Every volume multiplied by this; a database keeps its scale until reset.",
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
        LoadBaselineOperator(task_id="load_baseline", scale="{{ params.scale }}"),
        ApplyDeltaOperator(
            task_id="apply_delta",
            day="{{ params.day }}",
            scale="{{ params.scale }}",
            fast_forward="{{ params.fast_forward }}",
        ),
        ResetOperator(task_id="reset", scale="{{ params.scale }}"),
        StatusOperator(task_id="status"),
    ]
