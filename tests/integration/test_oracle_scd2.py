"""The oracle's scd2 mode on hand-built version tables: a snapshot written in plain SQL after every simulated day
of the cdc profile (the timestamp strategy on updated_at, as dbt's), with hard deletes invalidated, recorded as
new deletion records (dbt's ``hard_deletes: new_record``), or ignored, and current versions marked by NULL or by a
far-future date (dbt's ``dbt_valid_to_current``). The correct ones pass every day; ignored deletes and each kind of
damage are named."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_source_simulator import verify_target
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.oracle import Report
from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator

QUIET = logging.getLogger("tests.oracle.scd2")
DAYS = 7
SCHEMAS = {"jaffle_shop": "snap", "jaffle_crm": "snap"}
# What each run of the snapshot calls "now": a deletion closes a version then (dbt uses the wall clock).
NOW = "TIMESTAMP '2030-01-01 00:00:00' + INTERVAL (?) DAY"


@dataclass(frozen=True)
class Snapshot:
    """How the snapshot treats a hard delete and marks a current version."""

    hard_deletes: str = "invalidate"  # invalidate | new_record | ignore
    current: str = "NULL"  # the valid_to of a current version: NULL or a far-future timestamp literal

    def run(self, source: Path, target: Path, day: int) -> None:
        with duckdb.connect(str(target)) as db:
            db.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
            db.execute("CREATE SCHEMA IF NOT EXISTS snap")
            for table in TABLES:
                self._table(db, f"src.jaffle_{table.role}.{table.name}", f"snap.{table.name}", table.key, day)

    def _table(self, db: duckdb.DuckDBPyConnection, source: str, snap: str, key: str, day: int) -> None:
        current = "dbt_valid_to IS NULL" if self.current == "NULL" else f"dbt_valid_to = {self.current}"
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {snap} AS SELECT *, updated_at AS dbt_valid_from, "
            f"CAST(NULL AS TIMESTAMP) AS dbt_valid_to, 'False' AS dbt_is_deleted FROM {source} WHERE false"
        )
        have = {r[0] for r in db.execute(f"SELECT column_name FROM (DESCRIBE {snap})").fetchall()}
        for name, kind in db.execute(f"SELECT column_name, column_type FROM (DESCRIBE {source})").fetchall():
            if name not in have:  # the source added a column (the schema change): the snapshot follows
                db.execute(f"ALTER TABLE {snap} ADD COLUMN {name} {kind}")
        live = f"{current} AND dbt_is_deleted = 'False'"
        # A newer row (or a key back after its deletion) closes the current version (or deletion record).
        db.execute(
            f"UPDATE {snap} AS s SET dbt_valid_to = n.updated_at FROM {source} AS n WHERE s.{key} = n.{key} "
            f"AND s.{current} AND (n.updated_at > s.dbt_valid_from OR s.dbt_is_deleted = 'True')"
        )
        db.execute(
            f"INSERT INTO {snap} BY NAME SELECT n.*, n.updated_at AS dbt_valid_from, {self.current} AS dbt_valid_to, "
            f"'False' AS dbt_is_deleted FROM {source} AS n WHERE NOT EXISTS "
            f"(SELECT 1 FROM {snap} AS s WHERE s.{key} = n.{key} AND s.dbt_valid_from = n.updated_at "
            "AND s.dbt_is_deleted = 'False')"
        )
        if self.hard_deletes == "ignore":
            return
        gone = f"{live} AND {key} NOT IN (SELECT {key} FROM {source})"
        if self.hard_deletes == "new_record":
            db.execute(
                f"INSERT INTO {snap} BY NAME SELECT * REPLACE ({NOW} AS dbt_valid_from, {self.current} AS "
                f"dbt_valid_to, 'True' AS dbt_is_deleted) FROM {snap} WHERE {gone}",
                [day],
            )
        db.execute(f"UPDATE {snap} SET dbt_valid_to = {NOW} WHERE {gone}", [day])


@dataclass
class Run:
    source: Path
    target: Path

    def check(self, **options: Any) -> Report:
        return verify_target(
            source_session=DuckDBSession.for_database(str(self.source)),
            target_session=DuckDBSession.for_database(str(self.target)),
            target_schema=SCHEMAS,
            mode="scd2",
            log=QUIET,
            **options,
        )


def simulate(folder: Path, snapshot: Snapshot, days: int = DAYS) -> Iterator[tuple[int, Run]]:
    """The cdc profile day by day, the snapshot run after the baseline and after each day."""
    run = Run(folder / "source.duckdb", folder / "snapshots.duckdb")
    simulator = Simulator(DuckDBSession.for_database(str(run.source)), profile="cdc", log=QUIET)
    simulator.load_baseline()
    for day in range(days + 1):
        if day:
            simulator.apply_delta(day)
        snapshot.run(run.source, run.target, day)
        yield day, run


def gone_by(day: int) -> dict[str, set[int]]:
    """From the generator: each table's keys hard-deleted by ``day`` and not back."""
    gone: dict[str, set[int]] = {}
    for d in range(1, day + 1):
        for name, change in day_delta(d, 1, profile="cdc").items():
            key = next(t.key for t in TABLES if t.name == name)
            keys = gone.setdefault(name, set())
            keys |= {int(k) for k in change.hard_deleted}
            keys -= {int(k) for k in change.inserted[key]}
    return {name: keys for name, keys in gone.items() if keys}


@pytest.mark.parametrize(
    ("snapshot", "options"),
    [
        (Snapshot(), {}),
        (Snapshot(current="TIMESTAMP '9999-12-31'"), {}),
        (Snapshot(current="TIMESTAMP '2999-12-31'"), {"valid_to_current": "2999-12-31"}),
        (Snapshot("new_record"), {}),
        (Snapshot("new_record", "TIMESTAMP '9999-12-31'"), {}),
    ],
    ids=["invalidate", "far-future current", "a current date named", "new_record", "new_record far-future"],
)
def test_a_correct_snapshot_passes_every_day(tmp_path: Path, snapshot: Snapshot, options: dict[str, Any]) -> None:
    for day, run in simulate(tmp_path, snapshot):
        report = run.check(**options)
        assert report.ok, (day, report.lines())


def test_a_current_date_the_oracle_is_not_told_of_is_an_older_version(tmp_path: Path) -> None:
    *_, (_, run) = simulate(tmp_path, Snapshot(current="TIMESTAMP '2999-12-31'"), days=1)
    report = run.check()
    assert not report.ok
    differing = report.to_dict()["tables"]["jaffle_shop.customers"]["versions_differing"]
    assert set(differing["causes"]) == {"stale_version"} and set(differing["columns"]) == {"valid_to"}


def test_ignored_hard_deletes_are_named_from_the_first_day_with_one(tmp_path: Path) -> None:
    first = min(d for d in range(1, DAYS + 1) if gone_by(d))
    for day, run in simulate(tmp_path, Snapshot("ignore")):
        report = run.check()
        gone = gone_by(day)
        assert report.ok is (day < first), (day, report.lines())
        for name, keys in gone.items():
            table = next(t for t in report.tables if t.table.endswith(f".{name}"))
            left_open = table.to_dict()["versions_of_deleted_keys_left_open"]
            assert left_open["count"] == len(keys) and left_open["causes"] == {"hard_delete": len(keys)}, day
            assert {k[0] for k in (s["key"] for s in left_open["sample"])} <= keys


@pytest.fixture(scope="module")
def day_seven(tmp_path_factory: pytest.TempPathFactory) -> Run:
    *_, (_, run) = simulate(tmp_path_factory.mktemp("scd2"), Snapshot("new_record"))
    return run


def damaged(run: Run, tmp_path: Path, sql: str) -> Run:
    target = tmp_path / "damaged.duckdb"
    with duckdb.connect(str(target)) as db:
        db.execute(f"ATTACH '{run.target}' AS good (READ_ONLY)")
        db.execute("CREATE SCHEMA snap")
        for table in TABLES:
            db.execute(f"CREATE TABLE snap.{table.name} AS SELECT * FROM good.snap.{table.name}")
        db.execute(sql)
    return Run(run.source, target)


CUSTOMER = "(SELECT min(customer_id) FROM snap.customers WHERE dbt_valid_to IS NOT NULL)"


@pytest.mark.parametrize(
    ("sql", "finding", "causes"),
    [
        (
            f"DELETE FROM snap.customers WHERE customer_id = {CUSTOMER} AND dbt_valid_to IS NOT NULL",
            "versions_missing",
            {"stale_version": 1},
        ),
        (
            f"INSERT INTO snap.customers SELECT * FROM snap.customers WHERE customer_id = {CUSTOMER} AND "
            "dbt_valid_to IS NOT NULL",
            "keys_held_more_than_once",
            {"duplicate_key": 1},
        ),
        (
            "INSERT INTO snap.products SELECT * REPLACE ('True' AS dbt_is_deleted, TIMESTAMP '2030-01-01' AS "
            "dbt_valid_from) FROM snap.products WHERE product_id = 3",
            "deletion_records_of_keys_the_source_holds",
            {"not_in_source": 1},
        ),
        (
            "UPDATE snap.products SET dbt_valid_to = TIMESTAMP '2030-01-01' WHERE product_id = 3",
            "versions_differing",
            {"stale_version": 1},
        ),
        (
            "UPDATE snap.web_sessions SET dbt_valid_to = NULL WHERE dbt_is_deleted = 'False' AND session_id IN "
            "(SELECT session_id FROM snap.web_sessions WHERE dbt_is_deleted = 'True' AND dbt_valid_to IS NULL "
            "ORDER BY 1 LIMIT 1)",
            "versions_of_deleted_keys_left_open",
            {"hard_delete": 1},
        ),
        (
            "INSERT INTO snap.campaigns SELECT * REPLACE (campaign_id + 1000 AS campaign_id) FROM snap.campaigns "
            "WHERE campaign_id = 1",
            "versions_the_source_does_not_hold",
            {"not_in_source": 1},
        ),
    ],
    ids=[
        "a version lost",
        "a version twice",
        "a deletion record of a live key",
        "a live key closed",
        "a delete left open",
        "a version of no key",
    ],
)
def test_each_kind_of_damage_to_versions_is_named(
    day_seven: Run, tmp_path: Path, sql: str, finding: str, causes: dict[str, int]
) -> None:
    assert day_seven.check().ok
    report = damaged(day_seven, tmp_path, sql).check()
    bad = [t.to_dict() for t in report.tables if not t.ok]
    assert len(bad) == 1, report.lines()
    assert bad[0][finding]["causes"] == causes, report.lines()
    others = {k: v["count"] for k, v in bad[0].items() if isinstance(v, dict) and v.get("count") and k != finding}
    assert others == {}, report.lines()
