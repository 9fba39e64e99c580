"""SCD2 targets built by a real tool, `dbt snapshot` (dbt-core with dbt-duckdb, in its own venv), run once a
simulated day from the baseline on, configured every way dbt documents (``hard_deletes``: invalidate,
new_record or ignore; ``dbt_valid_to_current``), each checked by the oracle at every day: every correct
configuration passes every day of the profile, one version taken out is named, and ignored hard deletes are
named from the first day the source hard-deletes rows, as many as the generator says are gone."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_source_simulator import verify_target
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.defaults import CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.oracle import Report
from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.dbt_project import DBT_VENV, SNAPSHOTS, TABLE_NAME, Snapshotter, write_project

pytestmark = pytest.mark.slow
QUIET = logging.getLogger("tests.dbt")
DAYS = {"classic": 3, "cdc": 7}
SCALE = 1  # the Simulator's default
LEFT_OPEN = "versions of deleted keys left open"
SCHEMAS = {"shop": SHOP_SCHEMA, "crm": CRM_SCHEMA}
KEYS = {t.name: t.key for t in TABLES}
QUALIFIED = {t.name: f"{SCHEMAS[t.role]}.{t.name}" for t in TABLES}  # as the report names a table

Project = Callable[..., tuple[Path, Path, Snapshotter]]


@pytest.fixture(scope="module")
def dbt_installed() -> None:
    """Skips without dbt-duckdb in the dbt venv (asked once: importing dbt costs a second or two)."""
    probe = subprocess.run([str(DBT_VENV / "bin" / "python"), "-c", "import dbt.adapters.duckdb"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(
            f"dbt-duckdb is not installed in {DBT_VENV}: `make system` (or `make test`) installs it from "
            "requirements-dbt.txt; or point SOURCE_SIMULATOR_DBT_VENV at one."
        )


@pytest.fixture
def dbt_project(dbt_installed: None, tmp_path: Path) -> Iterator[Project]:
    """Writes the dbt project (``write_project``'s keyword arguments) and starts its dbt process: (source,
    warehouse, dbt). One project a test: the process ends with the test."""
    started: list[Snapshotter] = []

    def make(**config: Any) -> tuple[Path, Path, Snapshotter]:
        assert not started, "one dbt project a test"
        source, warehouse = tmp_path / "source.duckdb", tmp_path / "warehouse.duckdb"
        write_project(tmp_path / "project", source, warehouse, **config)
        started.append(Snapshotter(tmp_path / "project"))
        return source, warehouse, started[0]

    yield make
    for dbt in started:
        dbt.close()


def every_day(source: Path, dbt: Snapshotter, profile: str) -> Iterator[int]:
    """Loads the baseline, then applies each day of the profile; yields each day once `dbt snapshot` has
    snapshotted it."""
    simulator = Simulator(DuckDBSession.for_database(str(source)), scale=SCALE, profile=profile, log=QUIET)
    simulator.load_baseline()
    for day in range(DAYS[profile] + 1):
        if day:
            simulator.apply_delta(day)
        dbt.snapshot()
        yield day


def check(source: Path, warehouse: Path, valid_to_current: str | None = None) -> Report:
    return verify_target(
        source_session=DuckDBSession.for_database(str(source)),
        target_session=DuckDBSession.for_database(str(warehouse)),
        target_schema=SNAPSHOTS,
        table_name=TABLE_NAME,
        mode="scd2",
        valid_to_current=valid_to_current,
        log=QUIET,
    )


def gone_by_day(profile: str) -> dict[int, dict[str, set[int]]]:
    """From the generator alone: per day (0 on), per table (by name) with any, the keys the source has
    hard-deleted by the end of that day and not restored since (a restored key comes back among the day's
    inserted rows, with its key)."""
    gone: dict[str, set[int]] = {}
    out: dict[int, dict[str, set[int]]] = {0: {}}
    for day in range(1, DAYS[profile] + 1):
        for name, change in day_delta(day, SCALE, profile=profile).items():
            keys = gone.setdefault(name, set())
            keys -= set(change.inserted[KEYS[name]].tolist())
            keys |= set(change.hard_deleted.tolist())
        out[day] = {name: set(keys) for name, keys in gone.items() if keys}
    return out


def deleted_ever(profile: str) -> dict[str, set[int]]:
    """From the generator alone: per table (by name), every key the source hard-deleted on some day."""
    out: dict[str, set[int]] = {}
    for day in range(1, DAYS[profile] + 1):
        for name, change in day_delta(day, SCALE, profile=profile).items():
            if change.hard_deleted.size:
                out.setdefault(name, set()).update(change.hard_deleted.tolist())
    return out


@pytest.mark.parametrize("profile", DAYS)
def test_dbt_snapshots_of_every_day_pass_the_oracle(dbt_project: Project, profile: str) -> None:
    source, warehouse, dbt = dbt_project()  # write_project's defaults: hard_deletes invalidate, valid_to NULL
    for day in every_day(source, dbt, profile):
        report = check(source, warehouse)
        assert report.ok, (day, report.lines())
    with duckdb.connect(str(warehouse)) as db:  # one version of a changed customer taken out
        key, start = db.execute(
            f"SELECT customer_id, max(dbt_valid_from) FROM {SNAPSHOTS}.customers_snapshot GROUP BY 1 "
            "HAVING count(*) > 1 ORDER BY 1 LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        db.execute(
            f"DELETE FROM {SNAPSHOTS}.customers_snapshot WHERE customer_id = ? AND dbt_valid_from = ?", [key, start]
        )
    damaged = check(source, warehouse)
    customers = next(t for t in damaged.tables if not t.ok).to_dict()
    assert customers["versions_missing"]["count"] == 1
    assert customers["versions_missing"]["sample"][0]["key"][0] == key


def test_dbt_snapshots_with_new_records_pass_the_oracle_every_day(dbt_project: Project) -> None:
    """``hard_deletes: new_record``: a deleted key's version is closed and a row marked ``dbt_is_deleted =
    'True'`` (the last version's values, valid from the run's wall-clock time) follows it; a restored key's
    deletion row is closed at the restored row's updated_at, and a new version follows."""
    source, warehouse, dbt = dbt_project(hard_deletes="new_record")
    for day in every_day(source, dbt, "cdc"):
        report = check(source, warehouse)
        assert report.ok, (day, report.lines())
    # The oracle had deletion rows to read: one (or more) per key ever deleted, current for the keys still gone.
    gone = gone_by_day("cdc")[DAYS["cdc"]]
    with duckdb.connect(str(warehouse), read_only=True) as db:
        for name, keys in deleted_ever("cdc").items():
            key, relation = KEYS[name], f"{SNAPSHOTS}.{TABLE_NAME.format(table=name)}"
            marked = db.execute(f"SELECT DISTINCT {key} FROM {relation} WHERE dbt_is_deleted = 'True'").fetchall()
            assert {k for (k,) in marked} == keys, name
            current = db.execute(
                f"SELECT {key} FROM {relation} WHERE dbt_is_deleted = 'True' AND dbt_valid_to IS NULL"
            ).fetchall()
            assert {k for (k,) in current} == gone.get(name, set()), name
            restored = keys - {k for (k,) in current}
            back = db.execute(
                f"SELECT DISTINCT {key} FROM {relation} WHERE dbt_is_deleted = 'False' AND dbt_valid_to IS NULL"
            ).fetchall()
            assert restored <= {k for (k,) in back}, name


@pytest.mark.parametrize(
    ("hard_deletes", "valid_to_current", "told"),
    [
        # dbt's documented far-future date: the oracle takes a valid_to from the year 9000 on as current.
        ("invalidate", "'9999-12-31'::timestamp", None),
        # A nearer date, which the oracle is told; with deletion rows, which hold it too while current.
        ("new_record", "cast('2999-12-31' as timestamp)", "2999-12-31 00:00:00"),
    ],
    ids=["invalidate-9999", "new_record-2999-told"],
)
def test_dbt_snapshots_with_a_valid_to_current_pass_the_oracle_every_day(
    dbt_project: Project, hard_deletes: str, valid_to_current: str, told: str | None
) -> None:
    source, warehouse, dbt = dbt_project(hard_deletes=hard_deletes, valid_to_current=valid_to_current)
    for day in every_day(source, dbt, "cdc"):
        report = check(source, warehouse, told)
        assert report.ok, (day, report.lines())
    with duckdb.connect(str(warehouse), read_only=True) as db:  # current versions hold the date, never NULL
        for t in TABLES:
            relation = f"{SNAPSHOTS}.{TABLE_NAME.format(table=t.name)}"
            nulls, current = db.execute(
                f"SELECT count(*) FILTER (WHERE dbt_valid_to IS NULL), "
                f"count(*) FILTER (WHERE dbt_valid_to = {valid_to_current}) FROM {relation}"
            ).fetchone()  # type: ignore[misc]
            assert (nulls, current > 0) == (0, True), t.name


def test_ignored_hard_deletes_are_named_from_the_first_day_rows_are_deleted(dbt_project: Project) -> None:
    """``hard_deletes: ignore`` leaves a deleted key's version open; once the key is restored, dbt sees a row
    newer than that version and closes it, at the restored row's updated_at, as the truth expects (a restored
    key's version before the delete must be closed, at any time). So each day the oracle names exactly the
    keys deleted and not restored by then, all as hard deletes, and nothing else."""
    source, warehouse, dbt = dbt_project(hard_deletes="ignore")
    gone = gone_by_day("cdc")
    first = min(day for day, tables in gone.items() if tables)
    assert first > 0 and all(gone[day] for day in gone if day >= first), gone  # open from then on, every day
    restored = {k for name, keys in deleted_ever("cdc").items() for k in keys} - {
        k for keys in gone[DAYS["cdc"]].values() for k in keys
    }
    assert restored, "the profile restores deleted keys within its days: the case this test is about"
    for day in every_day(source, dbt, "cdc"):
        report = check(source, warehouse)
        if day < first:
            assert report.ok, (day, report.lines())
            continue
        assert not report.ok, day
        failed = {t.table: t for t in report.tables if not t.ok}
        assert set(failed) == {QUALIFIED[name] for name in gone[day]}, (day, report.lines())
        for name, keys in gone[day].items():
            findings = {f.noun: f for f in failed[QUALIFIED[name]].findings if f.count}
            assert set(findings) == {LEFT_OPEN}, (day, report.lines())
            assert findings[LEFT_OPEN].count == len(keys), (day, sorted(keys), report.lines())
            assert dict(findings[LEFT_OPEN].causes) == {"hard_delete": len(keys)}, (day, report.lines())
            assert {s["key"][0] for s in findings[LEFT_OPEN].sample} <= keys, (day, report.lines())
