"""Benchmark: generate, load and verify at scale 1, 100 and 1000, each against a ceiling measured in the
same run, with each scale's peak RSS per row; then the classic in-process sequence at each scale.

    make bench      (or: .venv/bin/python benchmarks/scale.py [--scales 1 100 1000] [--no-postgres])

Each (scale, engine) runs in a process of its own, so that its peak RSS is its own. The state is day 3's.

- generate: every table of the state generated (NumPy), against DuckDB generating as many rows of the same
  column types itself (``CREATE TABLE … AS SELECT … FROM range()``, in memory);
- load: the fast-forward to day 3 into an empty source (generation included: what a user waits for),
  against the engine's fastest way in for the same rows into the same keyed tables: on DuckDB
  ``INSERT … SELECT … FROM range()``, on PostgreSQL a server-side ``COPY … FROM`` a binary file of the
  rows, primary keys built after;
- verify: ``status(verify=True)`` (every table read back and digested, the expected figures generated),
  against the engine reading every table back in key order (DuckDB into Arrow; PostgreSQL's
  ``COPY … TO STDOUT``), and as a ratio to the load;
- the whole simulation: baseline and days 1-3 through the simulator on DuckDB, warm (imports and
  Airflow's plugin load paid by a scale-1 run first).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUIET = logging.getLogger("bench")
QUIET.setLevel(logging.WARNING)
DAY = 3
SCHEMAS = {"shop": "jaffle_shop", "crm": "jaffle_crm"}


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _expression(kind: str) -> str:
    return {
        "int": "i",
        "varchar": "'name-' || i",
        "decimal": "CAST((i % 100000) / 100 AS DECIMAL(10,2))",
        "timestamp": "TIMESTAMP '2024-01-01' + to_seconds(i)",
        "date": "DATE '2024-01-01' + CAST(i % 1000 AS INTEGER)",
        "bool": "i % 2 = 0",
    }[kind]


def _select(table: Any, rows: int) -> str:
    columns = ", ".join(f"{_expression(c.type)} AS {c.name}" for c in table.columns)
    return f"SELECT {columns} FROM range(1, {rows + 1}) AS r(i)"


def _counts(scale: int) -> dict[str, int]:
    from airflow_source_simulator.core.states import expected_tables

    return {name: figures["rows"] for name, figures in expected_tables(DAY, scale).items()}


def _warm(folder: Path) -> None:
    """Imports, Arrow's start-up and Airflow's one-time plugin load, paid before anything is timed."""
    from airflow_source_simulator.sessions.duckdb import DuckDBSession
    from airflow_source_simulator.simulator import Simulator

    warm = Simulator(DuckDBSession.for_database(str(folder / "warm.duckdb")), scale=2, log=QUIET)
    warm.apply_delta(1, fast_forward=True)
    warm.status(verify=True)


def generation(scale: int) -> dict[str, float]:
    import duckdb

    from airflow_source_simulator.data.generate import Generator
    from airflow_source_simulator.schema import TABLES

    state = Generator(DAY, scale)
    seconds = timed(lambda: [state.table(t.name) for t in TABLES])
    counts = {t.name: len(state.table(t.name)[t.key]) for t in TABLES}
    with duckdb.connect() as db:
        ceiling = timed(lambda: [db.execute(f"CREATE TABLE {t.name} AS {_select(t, counts[t.name])}") for t in TABLES])
    return {"generate": seconds, "generate_ceiling": ceiling}


def duckdb_figures(scale: int, folder: Path) -> dict[str, float]:
    import duckdb

    from airflow_source_simulator import packaged
    from airflow_source_simulator.schema import TABLES
    from airflow_source_simulator.sessions.duckdb import DuckDBSession
    from airflow_source_simulator.simulator import Simulator

    counts = _counts(scale)
    simulator = Simulator(DuckDBSession.for_database(str(folder / "load.duckdb")), scale=scale, log=QUIET)
    load = timed(lambda: simulator.apply_delta(DAY, fast_forward=True))
    verify = timed(lambda: simulator.status(verify=True))
    ceiling_db = Simulator(DuckDBSession.for_database(str(folder / "ceiling.duckdb")), log=QUIET)
    with ceiling_db.session.hold():
        ceiling_db.session.run(ceiling_db.source.packaged(packaged.SCHEMA_FILE), lambda step: None)
    with duckdb.connect(str(folder / "ceiling.duckdb")) as con:
        started = time.perf_counter()
        con.execute("BEGIN")
        for t in TABLES:
            con.execute(f"INSERT INTO {ceiling_db.ref(t)} {_select(t, counts[t.name])}")
        con.execute("COMMIT")
        load_ceiling = time.perf_counter() - started
    with duckdb.connect(str(folder / "load.duckdb"), read_only=True) as con:
        read_ceiling = timed(
            lambda: [con.sql(f"SELECT * FROM {simulator.ref(t)} ORDER BY {t.key}").to_arrow_table() for t in TABLES]
        )
    return {"load": load, "load_ceiling": load_ceiling, "verify": verify, "read_ceiling": read_ceiling}


def postgres_figures(scale: int, folder: Path) -> dict[str, float]:
    import psycopg
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from airflow_source_simulator.data.arrow import to_arrow
    from airflow_source_simulator.data.generate import Generator
    from airflow_source_simulator.schema import TABLES
    from airflow_source_simulator.sessions.pgbinary import encode
    from airflow_source_simulator.sessions.postgres import PostgresSession
    from airflow_source_simulator.simulator import Simulator

    uri = os.environ["SCALE_BENCH_PG_URI"]
    for database in (f"load{scale}", f"ceiling{scale}"):
        with psycopg.connect(uri + "postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {database}")
    hook = PostgresHook(postgres_conn_id=f"load{scale}", log_sql=False)
    simulator = Simulator(PostgresSession(hook), scale=scale, log=QUIET)
    load = timed(lambda: simulator.apply_delta(DAY, fast_forward=True))
    verify = timed(lambda: simulator.status(verify=True))

    # The ceiling: the same rows, as binary files the server reads itself, into the same keyed tables.
    files = folder / f"pg{scale}"
    files.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    state = Generator(DAY, scale)
    for t in TABLES:
        path = files / f"{t.name}.bin"
        path.write_bytes(encode(to_arrow(t, state.table(t.name)), t.columns))
        path.chmod(0o644)
    ceiling = Simulator(PostgresSession(PostgresHook(postgres_conn_id=f"ceiling{scale}", log_sql=False)), log=QUIET)
    ceiling.load_baseline()  # the schema, the ledger and the scale-1 rows, emptied below
    with psycopg.connect(uri + f"ceiling{scale}") as conn:
        for t in TABLES:
            conn.execute(f"TRUNCATE {ceiling.ref(t)}")
        conn.commit()
        started = time.perf_counter()
        for t in TABLES:
            ref = ceiling.ref(t)
            key = f"{t.name}_pkey"
            conn.execute(f"ALTER TABLE {ref} DROP CONSTRAINT {key}")
            conn.execute(f"COPY {ref} FROM '{files / t.name}.bin' (FORMAT binary)")
            conn.execute(f"ALTER TABLE {ref} ADD CONSTRAINT {key} PRIMARY KEY ({t.key})")
        conn.commit()
        load_ceiling = time.perf_counter() - started
    with psycopg.connect(uri + f"load{scale}") as conn:
        started = time.perf_counter()
        for t in TABLES:
            with conn.cursor().copy(f"COPY (SELECT * FROM {simulator.ref(t)} ORDER BY 1) TO STDOUT") as copy:
                for _ in copy:
                    pass
        read_ceiling = time.perf_counter() - started
    return {"load": load, "load_ceiling": load_ceiling, "verify": verify, "read_ceiling": read_ceiling}


def whole_simulation(scale: int, folder: Path) -> float:
    from airflow_source_simulator.sessions.duckdb import DuckDBSession
    from airflow_source_simulator.simulator import Simulator

    simulator = Simulator(DuckDBSession.for_database(str(folder / "whole.duckdb")), scale=scale, log=QUIET)

    def run() -> None:
        simulator.load_baseline()
        for day in (1, 2, 3):
            simulator.apply_delta(day)

    return timed(run)


def child(engine: str, scale: int) -> dict[str, Any]:
    """One (engine, scale) in this process: its figures and its peak RSS."""
    folder = Path(tempfile.mkdtemp(prefix=f"source-simulator-bench-{engine}{scale}-"))
    _warm(folder)
    if engine == "generate":
        figures: dict[str, Any] = generation(scale)
    elif engine == "duckdb":
        figures = duckdb_figures(scale, folder)
    elif engine == "postgres":
        figures = postgres_figures(scale, folder)
    else:
        figures = {"whole": whole_simulation(scale, folder)}
    figures["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return figures


def run_child(engine: str, scale: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", engine, "--scales", str(scale)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds / 1e6:.2f} M rows/s ({seconds:.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--child", choices=["generate", "duckdb", "postgres", "whole"])
    args = parser.parse_args()
    logging.disable(logging.INFO)
    if args.child:
        print(json.dumps(child(args.child, args.scales[0])))
        return

    from airflow_source_simulator.data.stream import state_rows

    engines = ["duckdb"] if args.no_postgres else ["duckdb", "postgres"]
    server = None
    if not args.no_postgres:
        from tests.support.postgres import postgres_server

        server = postgres_server()
        running = server.__enter__()
        os.environ["SCALE_BENCH_PG_URI"] = running.uri("")
        for scale in args.scales:
            os.environ[f"AIRFLOW_CONN_LOAD{scale}"] = running.airflow_connection(f"load{scale}")
            os.environ[f"AIRFLOW_CONN_CEILING{scale}"] = running.airflow_connection(f"ceiling{scale}")
    try:
        results = {(e, s): run_child(e, s) for s in args.scales for e in ["generate", *engines, "whole"]}
    finally:
        if server is not None:
            server.__exit__(None, None, None)

    print("Generation (day 3), against DuckDB generating as many rows of the same types itself:\n")
    print("| scale | rows | generate | DuckDB's own | speed / DuckDB's | peak RSS per row |")
    print("|---|---|---|---|---|---|")
    for scale in args.scales:
        rows, g = state_rows(DAY, scale), results[("generate", scale)]
        print(
            f"| {scale} | {rows:,} | {rate(rows, g['generate'])} | {rate(rows, g['generate_ceiling'])} | "
            f"{g['generate_ceiling'] / g['generate']:.0%} | {g['rss'] / rows:,.0f} B |"
        )
    for engine in engines:
        print(f"\n{engine}: fast-forward to day 3 and verify, each against the engine's ceiling:\n")
        print(
            "| scale | load | ceiling | load speed / ceiling | verify | read ceiling | verify time / load time | peak RSS per row |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for scale in args.scales:
            rows, f = state_rows(DAY, scale), results[(engine, scale)]
            print(
                f"| {scale} | {rate(rows, f['load'])} | {rate(rows, f['load_ceiling'])} | "
                f"{f['load_ceiling'] / f['load']:.0%} | {rate(rows, f['verify'])} | {rate(rows, f['read_ceiling'])} | "
                f"{f['verify'] / f['load']:.2f} | {f['rss'] / rows:,.0f} B |"
            )
    print("\nThe whole simulation (baseline and days 1-3) on DuckDB, warm:\n")
    print("| scale | time | peak RSS |")
    print("|---|---|---|")
    for scale in args.scales:
        w = results[("whole", scale)]
        print(f"| {scale} | {w['whole']:.2f} s | {w['rss'] / 1e9:.2f} GB |")


if __name__ == "__main__":
    main()
