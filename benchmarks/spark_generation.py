"""Benchmark: generating a state on Spark (``local[2]``) against generating it in one process.

    .venv/bin/python benchmarks/spark_generation.py [--day 3] [--scale 1000] [--rows-per-task 500000]

Both generate every table of the state; Spark writes to the ``noop`` sink, so only generation and
the hand-over to the JVM are timed; Spark's second pass is the figure, its first pass (which also
starts the Python workers) and the session's start-up are reported apart. On a cluster the
Spark figure grows with the executors; here it shows the overhead of the distributed path.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow_source_simulator.data.generate import Generator  # noqa: E402
from airflow_source_simulator.data.scenario import max_id  # noqa: E402
from airflow_source_simulator.schema import TABLES  # noqa: E402
from airflow_source_simulator.spark import generate_state  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=int, default=3)
    parser.add_argument("--scale", type=int, default=1000)
    parser.add_argument("--rows-per-task", type=int, default=500_000)
    args = parser.parse_args()
    rows = sum(max_id(t.name, args.day, args.scale) for t in TABLES)

    started = time.perf_counter()
    state = Generator(args.day, args.scale)
    for table in TABLES:
        state.table(table.name)
    local = time.perf_counter() - started

    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - started
    frames = generate_state(spark, day=args.day, scale=args.scale, rows_per_task=args.rows_per_task)
    passes = []
    for _ in range(2):  # the first pass also starts the Python workers and their imports
        started = time.perf_counter()
        for frame in frames.values():
            frame.write.format("noop").mode("overwrite").save()
        passes.append(time.perf_counter() - started)
    spark.stop()
    cold, distributed = passes

    print(f"day {args.day} at scale {args.scale}: {rows:,} rows")
    print(f"  one process (NumPy)     {local:6.2f} s  {rows / local / 1e6:5.2f} M rows/s")
    print(
        f"  Spark local[2]          {distributed:6.2f} s  {rows / distributed / 1e6:5.2f} M rows/s"
        f"  ({distributed / local:.2f}x the one-process time)"
    )
    print(f"  Spark, first pass       {cold:6.2f} s  (starts the Python workers; session start {startup:.1f} s apart)")


if __name__ == "__main__":
    main()
