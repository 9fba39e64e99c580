"""
### Incremental ingestion of the simulated sources (the consumer's side)

Scheduled on the simulator's table assets (`source-simulator://duckdb_default/<schema>/<table>`): it
runs when a simulation DAG such as `source_simulator_daily` has changed the sources. For each of the
eight tables it copies the rows whose `updated_at` is past the table's watermark into a separate
DuckDB "warehouse" (connection `duckdb_warehouse`, schemas `raw_jaffle_shop` and `raw_jaffle_crm`),
replacing the rows with the same key. Updates and soft deletes (`deleted_at`) arrive that way too.

A plain watermark load is exact for the `classic` profile, whose every change carries its day's
`updated_at`. The `cdc` profile breaks it twice: rows that arrive late with an older `updated_at`, and
hard deletes, which a watermark never sees. So this load reads a day behind its watermark (a look-back)
and deletes the keys the source no longer holds (delete detection). Then `check` (VerifyTargetOperator)
compares the warehouse with the simulated source and fails, naming the cause, if anything differs.

Connections: `AIRFLOW_CONN_DUCKDB_DEFAULT='{"conn_type": "duckdb", "host": "/tmp/source.duckdb"}'` and
`AIRFLOW_CONN_DUCKDB_WAREHOUSE='{"conn_type": "duckdb", "host": "/tmp/warehouse.duckdb"}'`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_source_simulator import VerifyTargetOperator
from airflow_source_simulator.assets import source_assets
from airflow_source_simulator.schema import TABLES

SOURCE_CONN_ID = "duckdb_default"
WAREHOUSE_CONN_ID = "duckdb_warehouse"
SCHEMAS = {"shop": "jaffle_shop", "crm": "jaffle_crm"}
# How far behind its watermark each load reads: the cdc profile's late rows arrive at most a day late.
LOOK_BACK = dt.timedelta(days=1)
log = logging.getLogger(__name__)


def _run(db: Any, sql: str, *params: Any) -> list[Any]:
    # DuckDB wants each result fetched to the end before the connection runs the next statement.
    return list(db.execute(sql, list(params)).fetchall())


def copy_increments(
    source: Any, warehouse: Any, *, look_back: dt.timedelta | None = LOOK_BACK, detect_deletes: bool = True
) -> dict[str, int]:
    """Copy each table's rows changed since its watermark (less ``look_back``) from ``source`` to ``warehouse``
    (two DuckDB connections), and with ``detect_deletes`` delete the warehouse's keys the source no longer
    holds; returns the rows copied per table. Each table moves in one warehouse transaction.

    ``look_back=None, detect_deletes=False`` is the naive watermark load the cdc profile breaks."""
    _run(warehouse, "CREATE SCHEMA IF NOT EXISTS raw_meta")
    _run(
        warehouse,
        "CREATE TABLE IF NOT EXISTS raw_meta.watermarks (source_table VARCHAR PRIMARY KEY, high_water TIMESTAMP NOT NULL)",
    )
    copied = {}
    for table in TABLES:
        name = f"{SCHEMAS[table.role]}.{table.name}"
        target = f"raw_{name}"
        mark = _run(warehouse, "SELECT high_water FROM raw_meta.watermarks WHERE source_table = ?", name)
        since = "WHERE updated_at > ?" if mark else ""
        params = [mark[0][0] - (look_back or dt.timedelta(0))] if mark else None
        increment = source.sql(f"SELECT * FROM {name} {since} ORDER BY {table.key}", params=params).to_arrow_table()
        warehouse.register("increment", increment)
        _run(warehouse, "BEGIN TRANSACTION")
        _run(warehouse, f"CREATE SCHEMA IF NOT EXISTS raw_{SCHEMAS[table.role]}")
        _run(warehouse, f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM increment LIMIT 0")
        # Schema evolution: a column the source added (the cdc profile's day 5) is added here too.
        for column, kind, *_ in _run(warehouse, "DESCRIBE SELECT * FROM increment"):
            _run(warehouse, f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {column} {kind}")
        _run(warehouse, f"DELETE FROM {target} WHERE {table.key} IN (SELECT {table.key} FROM increment)")
        _run(warehouse, f"INSERT INTO {target} BY NAME SELECT * FROM increment")
        if detect_deletes:
            keys = source.sql(f"SELECT {table.key} FROM {name}").to_arrow_table()
            warehouse.register("source_keys", keys)
            _run(warehouse, f"DELETE FROM {target} WHERE {table.key} NOT IN (SELECT {table.key} FROM source_keys)")
            warehouse.unregister("source_keys")
        if increment.num_rows:
            _run(warehouse, "INSERT OR REPLACE INTO raw_meta.watermarks SELECT ?, max(updated_at) FROM increment", name)
        _run(warehouse, "COMMIT")
        warehouse.unregister("increment")
        copied[name] = increment.num_rows
    return copied


with DAG(
    dag_id="source_simulator_ingestion",
    description="Copy the simulated sources' changes into a DuckDB warehouse, by updated_at watermarks.",
    schedule=source_assets(SOURCE_CONN_ID, SCHEMAS["shop"], SCHEMAS["crm"]),
    start_date=pendulum.datetime(2024, 4, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["source-simulator", "example", "consumer"],
    doc_md=__doc__,
):

    @task
    def ingest(triggering_asset_events: Any = None) -> dict[str, int]:
        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

        for asset, events in (triggering_asset_events or {}).items():
            for event in events:
                log.info("%s changed: %s", asset.uri, event.extra)
        source = DuckDBHook(duckdb_conn_id=SOURCE_CONN_ID).get_conn()
        warehouse = DuckDBHook(duckdb_conn_id=WAREHOUSE_CONN_ID).get_conn()
        try:
            return copy_increments(source, warehouse)
        finally:
            source.close()
            warehouse.close()

    check = VerifyTargetOperator(
        task_id="check",
        conn_id=SOURCE_CONN_ID,
        target_conn_id=WAREHOUSE_CONN_ID,
        target_schema={schema: f"raw_{schema}" for schema in SCHEMAS.values()},
    )

    ingest() >> check
