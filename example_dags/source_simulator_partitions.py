"""
### Simulated days as asset partitions

`source_simulator_daily_partitions` applies one simulated day per daily run (days 1-3, catch-up) to a
source of its own (schemas `jaffle_shop_daily` and `jaffle_crm_daily` on `duckdb_default`), with
`day_partitions=True`: each of its eight asset events carries the simulated date as its partition key
(`2024-04-01` for day 1).

`source_simulator_per_day` is scheduled with `PartitionedAssetTimetable` on those eight assets: one run
per simulated date, once every table has that partition. It knows which simulated day it processes from
the run's partition key alone (`day_of_date`), without reading the ledger, and counts the customers that
changed on that day. Needs Airflow 3.3 or later.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAll, PartitionedAssetTimetable, task

from airflow_source_simulator import ApplyDeltaOperator, LoadBaselineOperator, day_of_date
from airflow_source_simulator.assets import source_assets

START = pendulum.datetime(2024, 4, 1, tz="UTC")
CONN_ID = "duckdb_default"
SHOP, CRM = "jaffle_shop_daily", "jaffle_crm_daily"

with DAG(
    dag_id="source_simulator_daily_partitions",
    description="Apply one simulated day per daily run; asset events partitioned by simulated date.",
    schedule="@daily",
    start_date=START,
    end_date=START.add(days=2),
    catchup=True,
    max_active_runs=1,
    tags=["source-simulator", "example"],
    doc_md=__doc__,
):
    source = {"conn_id": CONN_ID, "shop_schema": SHOP, "crm_schema": CRM}
    (
        LoadBaselineOperator(task_id="load_baseline", **source)
        >> ApplyDeltaOperator(task_id="apply_day", day="auto", day_partitions=True, **source)
    )


@task
def process_day(dag_run: Any = None) -> dict[str, Any]:
    """The simulated day of this run's partition, and the customers that changed on it."""
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    date = dag_run.partition_key
    day = day_of_date(date)
    with DuckDBHook(duckdb_conn_id=CONN_ID, read_only=True).get_conn() as source:
        changed = source.execute(
            f"SELECT count(*) FROM {SHOP}.customers WHERE CAST(updated_at AS DATE) = CAST(? AS DATE)", [date]
        ).fetchall()[0][0]
    print(f"Processing simulated day {day} ({date}): {changed} customers changed on it.")
    return {"day": day, "date": date, "customers_changed": changed}


with DAG(
    dag_id="source_simulator_per_day",
    description="One run per simulated date, scheduled on the partitioned table assets.",
    schedule=PartitionedAssetTimetable(assets=AssetAll(*source_assets(CONN_ID, SHOP, CRM))),
    start_date=START,
    catchup=False,
    tags=["source-simulator", "example"],
    doc_md=__doc__,
):
    process_day()
