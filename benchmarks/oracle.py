"""Benchmark: checking a pipeline's target with the oracle, against loading the same state, in one run.

    make bench      (or: .venv/bin/python benchmarks/oracle.py [--scales 1 100] [--day 3] [--profile cdc])

For each scale: the time to build the state's source on DuckDB (a fast-forward: generation and load), and
the time ``verify_target`` takes to check a replica of it (the truth generated afresh, the target read
through Arrow and compared in DuckDB), and their ratio. The target is a perfect replica, so every row is
compared and none is reported. Then the same replica damaged by a pipeline's time-zone conversion (every
web session's timestamps 9 h ahead), so that every session differs and is diagnosed: the cost of a
failing check, whose differing rows are read back and explained one by one.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from airflow_source_simulator import verify_target  # noqa: E402
from airflow_source_simulator.data.generate import state  # noqa: E402
from airflow_source_simulator.sessions.duckdb import DuckDBSession  # noqa: E402
from airflow_source_simulator.simulator import Simulator  # noqa: E402

QUIET = logging.getLogger("bench")
QUIET.setLevel(logging.WARNING)
SCHEMAS = ("jaffle_shop", "jaffle_crm")
SHIFTED = ("session_start", "session_end", "created_at", "updated_at")


def replicate(source: Path, target: Path) -> None:
    with duckdb.connect(str(target)) as db:
        db.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        for schema in SCHEMAS:
            db.execute(f"CREATE SCHEMA raw_{schema}")
            tables = db.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND schema_name = ? "
                "AND table_name <> 'source_simulator_ledger'",
                [schema],
            ).fetchall()
            for (table,) in tables:
                db.execute(f"CREATE TABLE raw_{schema}.{table} AS SELECT * FROM src.{schema}.{table}")


def timed_check(source: Path, target: Path) -> tuple[float, Any]:
    """The seconds ``verify_target`` takes to check ``target``, and its report."""
    state.cache_clear()  # the check generates its truth afresh, as a task of its own would
    started = time.perf_counter()
    report = verify_target(
        source_session=DuckDBSession.for_database(str(source)),
        target_session=DuckDBSession.for_database(str(target)),
        target_schema={schema: f"raw_{schema}" for schema in SCHEMAS},
        log=QUIET,
    )
    return time.perf_counter() - started, report


def measure(scale: int, day: int, profile: str, folder: Path) -> dict[str, float]:
    source, target = folder / f"source_{scale}.duckdb", folder / f"target_{scale}.duckdb"
    started = time.perf_counter()
    result = Simulator(DuckDBSession.for_database(str(source)), scale=scale, profile=profile, log=QUIET).apply_delta(
        day, fast_forward=True
    )
    load = time.perf_counter() - started
    rows = sum(n or 0 for n in result["tables"].values())
    replicate(source, target)
    check, report = timed_check(source, target)
    assert report.ok, report.lines()
    with duckdb.connect(str(target)) as db:
        shifted = ", ".join(f"{c} = {c} + INTERVAL 9 HOUR" for c in SHIFTED)
        db.execute(f"UPDATE raw_jaffle_crm.web_sessions SET {shifted}")
    damaged, report = timed_check(source, target)
    assert not report.ok
    sessions = report.to_dict()["tables"]["jaffle_crm.web_sessions"]["rows_differing"]["count"]
    return {"rows": rows, "load": load, "check": check, "damaged": damaged, "sessions": sessions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--day", type=int, default=3)
    parser.add_argument("--profile", default="cdc")
    args = parser.parse_args()
    print(
        f"| scale | rows (day {args.day}, {args.profile}) | build the source | check a replica | check / build "
        "| check a damaged replica (sessions differing) | damaged / build |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for scale in args.scales:
            m = measure(scale, args.day, args.profile, Path(folder))
            print(
                f"| {scale} | {m['rows']:,.0f} | {m['load']:.2f} s | {m['check']:.2f} s "
                f"({m['rows'] / m['check'] / 1e6:.2f} M rows/s) | {m['check'] / m['load']:.2f} "
                f"| {m['damaged']:.2f} s ({m['sessions']:,.0f}) | {m['damaged'] / m['load']:.2f} |"
            )


if __name__ == "__main__":
    main()
