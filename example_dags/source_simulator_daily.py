"""
### Scheduled simulation: one simulated day per daily run

Runs `@daily` from 2024-04-01 to 2024-04-03 with catch-up, so its three runs apply days 1, 2 and 3.
`day="auto"` makes day N the N-th daily run, counted from the start date; a run without a logical date
(triggered from the UI or the REST API with a null logical date) applies the day after the ledger's.
Every run updates the eight table assets, which schedule `source_simulator_ingestion`. Safe under
retries and re-runs: the baseline load is a no-op once loaded, and re-applying an applied day is a
logged no-op. `max_active_runs=1` keeps the days in order.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_source_simulator import ApplyDeltaOperator, LoadBaselineOperator, StatusOperator

START = pendulum.datetime(2024, 4, 1, tz="UTC")

with DAG(
    dag_id="source_simulator_daily",
    description="Apply one simulated day per daily run (days 1-3, with catch-up).",
    schedule="@daily",
    start_date=START,
    end_date=START.add(days=2),
    catchup=True,
    max_active_runs=1,
    tags=["source-simulator", "example"],
    doc_md=__doc__,
):
    (
        LoadBaselineOperator(task_id="load_baseline")
        >> ApplyDeltaOperator(task_id="apply_day", day="auto")
        >> StatusOperator(task_id="status")
    )
