"""Benchmark: the operations on a Delta Lake engine through DatabricksSqlHook, against the same engine's
``INSERT … SELECT`` of as many rows, in one run.

    make bench      (or: .venv/bin/python benchmarks/delta_engine.py; needs .venv-spark and Java 17)

The engine is the Databricks tier's: Spark's Thrift server with Delta Lake on loopback
(tests/support/spark_server.py), reached through the official hook with the connector adapted as in the tests
(tests/support/local_databricks.py). For the baseline and each classic day it reports the operation's wall time,
the statements it ran and the rows it wrote, and the ceiling measured beside it: one ``INSERT INTO … SELECT`` per
table of as many rows as the operation wrote there, into Delta tables of the same shape, through the same hook
(what writing those rows costs at least, statement overhead included once per table). The ratio is operation
over ceiling.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pytest  # noqa: E402  (its MonkeyPatch applies the tests' connector adaptations here too)

from airflow_source_simulator import packaged  # noqa: E402
from airflow_source_simulator.readback import counts  # noqa: E402
from airflow_source_simulator.schema import TABLES  # noqa: E402
from airflow_source_simulator.sessions.registry import session_for_connection  # noqa: E402
from airflow_source_simulator.simulator import Simulator  # noqa: E402
from tests.support.local_databricks import adapt, databricks_connection  # noqa: E402
from tests.support.spark_server import spark_server, unavailable  # noqa: E402

CHANGE_KINDS = ("inserted", "updated", "soft_deleted", "hard_deleted")


def counted(patch: pytest.MonkeyPatch) -> dict[str, int]:
    """A counter of the statements the connector executes from now on."""
    from databricks.sql import client

    count = {"statements": 0}
    execute = client.Cursor.execute

    def counting(self: Any, operation: str, *args: Any, **kwargs: Any) -> Any:
        count["statements"] += 1
        return execute(self, operation, *args, **kwargs)

    patch.setattr(client.Cursor, "execute", counting)
    return count


def written(day: int, simulator: Simulator) -> dict[str, int]:
    """Rows the operation of ``day`` writes per table (the baseline: every row of day 0)."""
    if day == 0:
        return {name: found.rows for name, found in counts(simulator.session, simulator.source, TABLES).items()}
    tables = packaged.changes()["classic"][str(day)]["tables"]
    return {name: sum(len(change[k]) for k in CHANGE_KINDS) for name, change in tables.items()}


def ceiling(simulator: Simulator, rows: dict[str, int], scratch: str) -> float:
    """Seconds to write ``rows`` per table with one INSERT … SELECT each, into fresh Delta copies."""
    session = simulator.session
    session.hook.run([f"DROP SCHEMA IF EXISTS `{scratch}` CASCADE", f"CREATE SCHEMA `{scratch}`"])
    session.hook.run(
        [
            f"CREATE TABLE `{scratch}`.{t.name} USING DELTA AS SELECT * FROM {simulator.ref(t)} WHERE FALSE"
            for t in TABLES
        ]
    )
    started = time.perf_counter()
    for t in TABLES:
        if rows.get(t.name):
            session.hook.run(f"INSERT INTO `{scratch}`.{t.name} SELECT * FROM {simulator.ref(t)} LIMIT {rows[t.name]}")
    return time.perf_counter() - started


def main() -> int:
    reason = unavailable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    # Airflow configures logging at import: quiet the hook's and the connector's line per statement and request.
    for name in ("", "airflow", "databricks", "airflow_source_simulator", "py.warnings"):
        logging.getLogger(name).setLevel(logging.WARNING)
    patch = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory() as tmp, spark_server(Path(tmp) / "spark") as server:
        adapt(patch)
        conn_id = databricks_connection(patch, server)
        count = counted(patch)
        lines = []
        for day in range(4):
            simulator = Simulator(session_for_connection(conn_id), shop_schema="bench_shop", crm_schema="bench_crm")
            before = count["statements"]
            started = time.perf_counter()
            if day == 0:
                simulator.load_baseline()
            else:
                simulator.apply_delta(day)
            seconds = time.perf_counter() - started
            statements = count["statements"] - before
            rows = written(day, simulator)
            floor = ceiling(simulator, rows, "bench_scratch")
            name = "baseline" if day == 0 else f"day {day}"
            lines.append(
                f"| {name} | {seconds:.1f} s | {statements} | {sum(rows.values())} | {floor:.1f} s | "
                f"{seconds / floor:.1f}x |"
            )
        simulator = Simulator(session_for_connection(conn_id), shop_schema="bench_shop", crm_schema="bench_crm")
        started = time.perf_counter()
        assert simulator.status(verify=True)["verified"]
        verify = time.perf_counter() - started
    patch.undo()
    print("| operation | wall time | statements | rows written | INSERT … SELECT of those rows | ratio |")
    print("|---|---|---|---|---|---|")
    print("\n".join(lines))
    print(f"\nstatus with verify at day 3: {verify:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
