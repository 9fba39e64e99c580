"""Benchmark: generation and bulk loading at scale 1, 100 and 1000, in one run.

    make bench      (or: .venv/bin/python benchmarks/scale.py [--scales 1 100 1000] [--no-postgres])

Reports, each measured in one run:
  1. generation alone: every table of the day-3 state, rows/s;
  2. loading the generated rows into DuckDB (Arrow) and PostgreSQL (COPY), rows/s, next to DuckDB's
     own ``INSERT … SELECT FROM range()`` of the same tables and row counts (the ceiling);
  3. the whole simulation at each scale: baseline + days 1-3 through the simulator, on DuckDB.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow_source_simulator import packaged  # noqa: E402
from airflow_source_simulator.core.statements import Action, Rows  # noqa: E402
from airflow_source_simulator.data.generate import Generator  # noqa: E402
from airflow_source_simulator.schema import TABLES, Column  # noqa: E402
from airflow_source_simulator.sessions.duckdb import DuckDBSession  # noqa: E402
from airflow_source_simulator.sessions.postgres import PostgresSession  # noqa: E402
from airflow_source_simulator.simulator import Simulator  # noqa: E402

QUIET = logging.getLogger("bench")
QUIET.setLevel(logging.WARNING)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def generate(scale: int) -> tuple[Generator, int, float]:
    state = Generator(3, scale)
    seconds = timed(lambda: [state.table(t.name) for t in TABLES])
    return state, sum(len(state.table(t.name)[t.key]) for t in TABLES), seconds


def load(simulator: Simulator, state: Generator) -> float:
    """Only the bulk insert of already generated rows into freshly created, empty tables."""
    session = simulator.session
    with session.hold():
        session.run(simulator.source.packaged(packaged.SCHEMA_FILE), lambda step: None)
        rows = [Rows(Action.LOAD, t, simulator.ref(t), state.table(t.name)) for t in TABLES]
        return timed(lambda: session.run(rows, lambda step: None))


def _range_expression(column: Column) -> str:
    return {
        "int": "i",
        "varchar": "'name-' || i",
        "decimal": "CAST((i % 100000) / 100 AS DECIMAL(10,2))",
        "timestamp": "TIMESTAMP '2024-01-01' + to_seconds(i)",
        "date": "DATE '2024-01-01' + CAST(i % 1000 AS INTEGER)",
        "bool": "i % 2 = 0",
    }[column.type]


def duckdb_ceiling(path: Path, state: Generator) -> float:
    """DuckDB generating the same tables' rows itself: INSERT … SELECT FROM range()."""
    import duckdb

    simulator = Simulator(DuckDBSession.for_database(str(path)), log=QUIET)
    with simulator.session.hold():
        simulator.session.run(simulator.source.packaged(packaged.SCHEMA_FILE), lambda step: None)
    with duckdb.connect(str(path)) as con:
        started = time.perf_counter()
        for t in TABLES:
            n = len(state.table(t.name)[t.key])
            columns = ", ".join(_range_expression(c) for c in t.columns)
            con.execute(f"INSERT INTO {simulator.ref(t)} SELECT {columns} FROM range(1, {n + 1}) AS r(i)")
        return time.perf_counter() - started


def whole_simulation(path: Path, scale: int) -> float:
    simulator = Simulator(DuckDBSession.for_database(str(path)), scale=scale, log=QUIET)

    def run() -> None:
        simulator.load_baseline()
        for day in (1, 2, 3):
            simulator.apply_delta(day)

    return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    folder = Path(tempfile.mkdtemp(prefix="source-simulator-bench-"))
    postgres = None
    if not args.no_postgres:
        from tests.support.postgres import postgres_server

        postgres = postgres_server()
        server = postgres.__enter__()
    try:
        print(
            "| scale | rows (day 3) | generate | DuckDB load | DuckDB ceiling | load / ceiling | PostgreSQL COPY | baseline + days 1-3 on DuckDB |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for scale in args.scales:
            Generator(3, 1).table("orders")  # warm imports and caches
            state, rows, gen_s = generate(scale)
            duck = Simulator(DuckDBSession.for_database(str(folder / f"load{scale}.duckdb")), log=QUIET)
            duck_s = load(duck, state)
            ceiling_s = duckdb_ceiling(folder / f"ceiling{scale}.duckdb", state)
            pg_cell = "-"
            if postgres is not None:
                import os

                import psycopg
                from airflow.providers.postgres.hooks.postgres import PostgresHook

                with psycopg.connect(server.uri(), autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE bench{scale}")
                os.environ[f"AIRFLOW_CONN_BENCH{scale}"] = server.airflow_connection(f"bench{scale}")
                pg = Simulator(
                    PostgresSession(PostgresHook(postgres_conn_id=f"bench{scale}", log_sql=False)), log=QUIET
                )
                pg_s = load(pg, state)
                pg_cell = f"{rows / pg_s / 1e6:.2f} M rows/s ({pg_s:.2f} s)"
            whole_s = whole_simulation(folder / f"whole{scale}.duckdb", scale)
            print(
                f"| {scale} | {rows:,} | {rows / gen_s / 1e6:.2f} M rows/s ({gen_s:.2f} s) "
                f"| {rows / duck_s / 1e6:.2f} M rows/s ({duck_s:.2f} s) | {rows / ceiling_s / 1e6:.2f} M rows/s "
                f"({ceiling_s:.2f} s) | {ceiling_s / duck_s:.0%} | {pg_cell} | {whole_s:.2f} s |",
                flush=True,
            )
    finally:
        if postgres is not None:
            postgres.__exit__(None, None, None)


if __name__ == "__main__":
    main()
