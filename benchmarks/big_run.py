"""Benchmark: the big run. Scale 1000 at day 365 (about 128 M rows) fast-forwarded into DuckDB and into
PostgreSQL, each verified against the manifest, and the same state generated on Spark ``local[2]`` and
digested: its digests must equal the manifest's.

    make bench-big      (or: .venv/bin/python benchmarks/big_run.py [--day 365] [--scale 1000]
                         [--only duckdb postgres spark])

Each engine runs in a process of its own, so that its peak RSS is its own; wall time, rows/s and peak RSS
are printed as a Markdown table. Needs about 40 GB of free disk (PostgreSQL's files and WAL, DuckDB's
file) in the temporary folder. Not a test: it takes about 20 minutes on two cores.
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUIET = logging.getLogger("bench")
QUIET.setLevel(logging.WARNING)


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def simulate(engine: str, day: int, scale: int, folder: Path) -> dict[str, Any]:
    """Fast-forward an empty source to ``day`` and verify it, in this process."""
    from airflow_source_simulator.simulator import Simulator

    if engine == "duckdb":
        from airflow_source_simulator.sessions.duckdb import DuckDBSession

        session: Any = DuckDBSession.for_database(str(folder / "big.duckdb"))
    else:
        import psycopg
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from airflow_source_simulator.sessions.postgres import PostgresSession

        uri = os.environ["BIG_RUN_PG_URI"]
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS big_run WITH (FORCE)")
            conn.execute("CREATE DATABASE big_run")
        session = PostgresSession(PostgresHook(postgres_conn_id="big_run", log_sql=False))
    simulator = Simulator(session, scale=scale, log=QUIET)
    started = time.perf_counter()
    simulator.apply_delta(day, fast_forward=True)
    load = time.perf_counter() - started
    started = time.perf_counter()
    verified = simulator.status(verify=True)["verified"]
    return {"load": load, "verify": time.perf_counter() - started, "verified": verified, "rss": peak_rss()}


def spark_digests(day: int, scale: int, folder: Path) -> dict[str, Any]:
    """The state generated on Spark local[2], its canonical lines built by the executors, and digested in key
    order on the driver, against the manifest's figures generated locally. The executors write each task's
    lines to a file the driver reads (local mode shares the disk): sending them as task results (about
    30 MB a task) lost some from the block manager."""
    import pyarrow as pa
    from pyspark import TaskContext
    from pyspark.sql import SparkSession

    from airflow_source_simulator.core.states import expected_tables
    from airflow_source_simulator.data.digests import TableDigest, lines, text_bytes
    from airflow_source_simulator.schema import TABLES
    from airflow_source_simulator.spark import generate_state

    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    frames = generate_state(spark, day=day, scale=scale)
    found = {}
    for table in TABLES:
        texts = folder / f"spark-{table.name}"
        texts.mkdir()

        def canonical(batches: Any, table: Any = table, texts: Path = texts) -> Any:
            part = TaskContext.get().partitionId()  # type: ignore[union-attr]
            rows, low, high = 0, None, None
            with open(texts / f"{part:08d}", "wb") as out:
                for batch in batches:
                    if batch.num_rows:
                        data = pa.Table.from_batches([batch])
                        out.write(text_bytes(lines(table, data)))
                        keys = data.column(table.key)
                        low = keys[0].as_py() if low is None else low
                        high, rows = keys[-1].as_py(), rows + data.num_rows
            yield pa.RecordBatch.from_pydict({"part": [part], "rows": [rows], "low": [low], "high": [high]})

        digest = TableDigest(table)
        schema = "part long, rows long, low long, high long"
        for row in sorted(frames[table.name].mapInArrow(canonical, schema).collect()):
            path = texts / f"{row.part:08d}"
            if row.rows:
                with open(path, "rb") as text:
                    digest.add(iter(lambda: text.read(1 << 26), b""), row.rows, row.low, row.high)
            path.unlink()
        texts.rmdir()
        found[table.name] = digest.figures()
    seconds = time.perf_counter() - started
    spark.stop()
    expected = expected_tables(day, scale)
    equal = all(found[name] == {k: expected[name][k] for k in found[name]} for name in found)
    return {"load": seconds, "verify": 0.0, "verified": equal, "rss": peak_rss()}


def child(engine: str, day: int, scale: int, folder: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", engine, "--day", str(day), "--scale", str(scale)]
    command += ["--folder", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the {engine} run failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", type=int, default=365)
    parser.add_argument("--scale", type=int, default=1000)
    parser.add_argument("--only", nargs="+", default=["duckdb", "postgres", "spark"])
    parser.add_argument("--child", choices=["duckdb", "postgres", "spark"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    if args.child:
        if args.child == "spark":
            result = spark_digests(args.day, args.scale, args.folder)
        else:
            result = simulate(args.child, args.day, args.scale, args.folder)
        print(json.dumps(result))
        return

    from airflow_source_simulator.data.stream import state_rows

    rows = state_rows(args.day, args.scale)
    folder = Path(tempfile.mkdtemp(prefix="source-simulator-big-"))
    print(f"day {args.day} at scale {args.scale}: {rows:,} rows (an upper bound: deleted rows are counted)\n")
    print("| engine | fast-forward | rows/s | verify | verified | peak RSS | RSS per row |")
    print("|---|---|---|---|---|---|---|")
    for engine in args.only:
        if engine == "postgres":
            from tests.support.postgres import postgres_server

            with postgres_server() as server:
                os.environ["BIG_RUN_PG_URI"] = server.uri()
                os.environ["AIRFLOW_CONN_BIG_RUN"] = server.airflow_connection("big_run")
                result = child(engine, args.day, args.scale, folder)
        else:
            result = child(engine, args.day, args.scale, folder)
        verify = f"{result['verify']:.0f} s" if result["verify"] else "-"
        print(
            f"| {engine} | {result['load']:.0f} s | {rows / result['load'] / 1e6:.2f} M | {verify} | "
            f"{result['verified']} | {result['rss'] / 1e9:.2f} GB | {result['rss'] / rows:.0f} B |",
            flush=True,
        )
        for leftover in folder.glob("big.duckdb*"):
            leftover.unlink()


if __name__ == "__main__":
    main()
