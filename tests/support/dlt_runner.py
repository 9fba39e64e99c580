"""Runs a dlt pipeline on request, in the dlt venv (duckdb-engine, through which dlt reads the source, needs an
older SQLAlchemy than Airflow's set has).

Run as ``<dlt venv>/bin/python -P tests/support/dlt_runner.py <work folder>``: it imports dlt once, prints
``READY``, then for every line on stdin (a JSON request, see ``run``) runs the pipeline once in-process and
prints ``DONE ok`` or ``DONE failed <error>``. The work folder holds dlt's pipeline state (``pipelines_dir``).

The pipeline is the one a data engineer would write over the simulated source: dlt's ``sql_database`` over
each source schema (its eight tables, not the simulator's ledger), every table merged on its key (``write_disposition="merge"``), read incrementally on
``updated_at`` with a look-back of one day (``dlt.sources.incremental("updated_at", lag=86400)``: the lag is
in seconds for a datetime cursor), then key reconciliation: dlt's SQL source never sees a hard delete, so
after each run the target's rows whose key the source no longer holds are deleted. The source engine is
disposed after every run: a DuckDB file held open, even read-only, would keep the simulator from writing
the next day.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

LOOK_BACK_SECONDS = 24 * 60 * 60  # the cdc profile's late rows arrive at most a day behind the watermark


def run(dlt: Any, request: dict[str, Any], pipelines_dir: str) -> None:
    """One run of pipeline ``request["name"]``: the tables ``request["tables"]`` (source schema -> table -> key
    column) of the DuckDB file ``request["source"]`` through ``request["backend"]`` into dataset
    ``request["dataset"]`` of ``request["destination"]`` (``duckdb`` or ``postgres``) at
    ``request["credentials"]`` (the DuckDB file, or a PostgreSQL URI)."""
    import sqlalchemy as sa
    from dlt.sources.sql_database import sql_database

    engine = sa.create_engine(f"duckdb:///{request['source']}", connect_args={"read_only": True})
    try:
        resources, keys = [], {}
        for schema, tables in request["tables"].items():
            source = sql_database(engine, schema=schema, table_names=list(tables), backend=request["backend"])
            for name, resource in source.resources.items():
                resource.apply_hints(
                    write_disposition="merge",
                    primary_key=tables[name],
                    incremental=dlt.sources.incremental("updated_at", lag=LOOK_BACK_SECONDS),
                )
                resources.append(resource)
                keys[name] = (schema, tables[name])
        pipeline = dlt.pipeline(
            pipeline_name=request["name"],
            destination=getattr(dlt.destinations, request["destination"])(request["credentials"]),
            dataset_name=request["dataset"],
            pipelines_dir=pipelines_dir,
        )
        pipeline.run(resources)
        with engine.connect() as connection:
            held = {
                name: (key, [row[0] for row in connection.execute(sa.text(f"SELECT {key} FROM {schema}.{name}"))])
                for name, (schema, key) in keys.items()
            }
        reconcile_keys(pipeline, held)
    finally:
        engine.dispose()


def reconcile_keys(pipeline: Any, held: dict[str, tuple[str, list[int]]]) -> None:
    """Delete the target's rows whose key the source no longer holds (hard deletes); ``held``: table -> its key
    column and the keys the source holds. Tables dlt has not created (none is, for a source table that was
    empty so far) are left alone."""
    with pipeline.sql_client() as client:
        for name, (key, source_keys) in held.items():
            exists = client.execute_sql(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                pipeline.dataset_name,
                name,
            )
            if not exists:
                continue
            table = client.make_qualified_table_name(name)
            client.execute_sql(
                f"DELETE FROM {table} WHERE {key} NOT IN (SELECT unnest(CAST(%s AS BIGINT[])))", source_keys
            )


def main() -> None:
    pipelines_dir = sys.argv[1]
    os.chdir(pipelines_dir)  # no .dlt/ config folder of the repository's is picked up
    os.environ.update({"RUNTIME__DLTHUB_TELEMETRY": "false", "RUNTIME__LOG_LEVEL": "WARNING"})
    # duckdb-engine reflects no indexes, and says so once per table.
    warnings.filterwarnings("ignore", message="duckdb-engine doesn't yet support reflection on indices")
    import dlt
    import dlt.sources.sql_database  # imported once, before READY

    print("READY", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            run(dlt, json.loads(line), pipelines_dir)
        except Exception as error:
            print(f"DONE failed {error!r}".replace("\n", " | "), flush=True)
        else:
            print("DONE ok", flush=True)


if __name__ == "__main__":
    main()
