"""
### Classic day-by-day simulation

Resets the simulated sources to the baseline, applies days 1, 2 and 3 (one task per day, each logging
the status box), then checks every table against the packaged manifest.

Uses the `duckdb_default` connection: set its host to a DuckDB file, e.g.
`AIRFLOW_CONN_DUCKDB_DEFAULT='{"conn_type": "duckdb", "host": "/tmp/source.duckdb"}'`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, chain

from airflow_source_simulator import ApplyDeltaOperator, ResetOperator, StatusOperator

with DAG(
    dag_id="source_simulator_classic_days",
    description="Reset the simulated sources, apply days 1-3 one task per day, then verify the status.",
    schedule=None,
    start_date=pendulum.datetime(2024, 4, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["source-simulator", "example"],
    doc_md=__doc__,
):
    chain(
        ResetOperator(task_id="reset"),
        *(ApplyDeltaOperator(task_id=f"apply_day_{day}", day=day) for day in (1, 2, 3)),
        StatusOperator(task_id="status", verify=True),
    )
