"""A matrix of real pipelines, correct and buggy, each run after the baseline and after every day (cdc days 0-7,
classic days 0-3) into a DuckDB and a PostgreSQL target, and checked by the oracle after every run.

A correct pipeline must pass every day. A buggy one must pass every day before its bug first shows, and from
then on fail with exactly the differences its bug makes: per table and kind of finding, the count per cause
(and, for differing rows, the columns named). Those are computed here from the generator alone
(``state(day, scale, profile).table(name)`` and ``day_delta``), by following what the pipeline does with the
rows; never from the oracle's own truth.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from airflow_source_simulator import verify_target
from airflow_source_simulator.data.delta import TableDelta, day_delta
from airflow_source_simulator.data.generate import state
from airflow_source_simulator.dialects.postgres import publication_name
from airflow_source_simulator.oracle import Report
from airflow_source_simulator.sessions.base import Session
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.pipelines import (
    AUDIT_COLUMNS,
    BUGGY,
    CORRECT,
    SOURCE_TABLES,
    STATE_SCHEMA,
    LogicalDecodingConsumer,
    Pipeline,
    Warehouse,
)
from tests.support.postgres import PostgresServer
from tests.support.sources import postgres_session

QUIET = logging.getLogger("tests.pipeline_matrix")
LAST_DAY = {"cdc": 7, "classic": 3}
SCALE = 1
DAY = 86_400  # seconds: the generator's timestamps are whole seconds since the epoch
NULL_TS = -1  # the generator's NULL timestamp
KEYS = {table: key for tables in SOURCE_TABLES.values() for table, key in tables.items()}
QUALIFIED = {table: f"{schema}.{table}" for schema, tables in SOURCE_TABLES.items() for table in tables}
EVERY_KEY = 1_000_000  # sample_size: every key of every finding is listed


# --- What the generator says ---------------------------------------------------------------------------------------


@cache
def rows(profile: str, day: int, table: str) -> dict[str, np.ndarray]:
    """The table's columns at the end of the day (state keeps only two states: this keeps them all)."""
    return dict(state(day, SCALE, profile).table(table))


@cache
def at(profile: str, day: int, table: str) -> dict[int, int]:
    """Each key's row number in ``rows``."""
    return {k: i for i, k in enumerate(rows(profile, day, table)[KEYS[table]].tolist())}


@cache
def changes(profile: str, day: int) -> dict[str, TableDelta]:
    return day_delta(day, SCALE, profile=profile)


@cache
def change_days(profile: str, table: str) -> dict[int, list[int]]:
    """Per key, the days 1.. on which its row changed (inserted, updated, or back after a delete)."""
    out: dict[int, list[int]] = defaultdict(list)
    for day in range(1, LAST_DAY[profile] + 1):
        change = changes(profile, day)[table]
        for k in change.inserted[KEYS[table]].tolist() + change.updated[KEYS[table]].tolist():
            out[k].append(day)
    return out


def present(profile: str, day: int, table: str) -> set[int]:
    return set(at(profile, day, table))


def restored(profile: str, day: int, table: str) -> set[int]:
    """Keys back by ``day`` after a hard delete on an earlier day."""
    deleted: set[int] = set()
    back: set[int] = set()
    for d in range(1, day + 1):
        change = changes(profile, d)[table]
        back |= deleted & set(change.inserted[KEYS[table]].tolist())
        deleted |= set(change.hard_deleted.tolist())
    return back


def hard_deleted_by(profile: str, day: int, table: str) -> set[int]:
    """Keys hard-deleted on any day up to ``day`` (back since or not)."""
    return {k for d in range(1, day + 1) for k in changes(profile, d)[table].hard_deleted.tolist()}


# --- A pipeline followed over the generator's states ---------------------------------------------------------------


def replay(
    profile: str,
    last: int,
    table: str,
    *,
    watermark: str = "updated_at",
    look_back: int | None = DAY,
    inclusive: bool = False,
    append: bool = False,
    deletes: bool = True,
    live_only: bool = False,
) -> dict[int, list[int]]:
    """What an incremental load holds after its run of day ``last``: per key, the days whose row it loaded (more
    than one when it appends). Its high-water mark is the source's greatest watermark value at each run."""
    key = KEYS[table]
    held: dict[int, list[int]] = {}
    mark: int | None = None
    for day in range(last + 1):
        columns = rows(profile, day, table)
        stamps = columns[watermark]
        take = np.ones(stamps.size, dtype=bool)
        if mark is not None:
            since = mark - (look_back or 0)
            take = stamps >= since if inclusive else stamps > since
        if live_only:
            take &= columns["deleted_at"] == NULL_TS
        for k in columns[key][take].tolist():
            held[k] = [*held.get(k, []), day] if append else [day]
        if deletes:
            keys = set(columns[key].tolist())
            held = {k: v for k, v in held.items() if k in keys}
        if stamps.size:
            mark = int(stamps.max())
    return held


@dataclass
class Differences:
    missing: set[int] = field(default_factory=set)
    unexpected: set[int] = field(default_factory=set)
    duplicated: set[int] = field(default_factory=set)
    differing: set[int] = field(default_factory=set)


def differences(profile: str, last: int, table: str, held: Mapping[int, list[int]]) -> Differences:
    """How the rows held (per key, the days they were read) differ from the source at ``last``: a row read on
    day d is stale when its key changed on a later day."""
    keys = present(profile, last, table)
    days = change_days(profile, table)

    def stale(k: int, read: int) -> bool:
        return any(read < d <= last for d in days.get(k, []))

    return Differences(
        missing=keys - set(held),
        unexpected=set(held) - keys,
        duplicated={k for k, v in held.items() if len(v) > 1},
        differing={k for k, v in held.items() if k in keys and any(stale(k, d) for d in v)},
    )


# --- Expected verdicts -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One kind of finding of one table: its exact count per cause; or, when ``causes`` is None, a count (exact,
    or at most ``len(keys)`` when None), the causes it may give and the keys it may list."""

    causes: Mapping[str, int] | None = None
    count: int | None = None
    may_be: frozenset[str] = frozenset()
    keys: frozenset[Any] | None = None
    named: frozenset[str] = frozenset()  # columns its log line and its sample must name (differing rows)


@dataclass(frozen=True)
class TableVerdict:
    findings: Mapping[str, Finding] = field(default_factory=dict)  # kind -> finding
    missing_columns: tuple[str, ...] = ()
    line: str | None = None  # a text one of the table's lines must hold


Verdict = dict[str, TableVerdict]  # per source table (schema.table); a table not named must match
Expect = Callable[[str, int], Verdict]


def passes(profile: str, day: int) -> Verdict:
    return {}


def by_cause(keys: set[int], cause: Callable[[int], str]) -> Finding:
    return Finding(causes=Counter(cause(k) for k in keys))


def late_or_restored(profile: str, day: int, table: str) -> Callable[[int], str]:
    back = restored(profile, day, table)
    return lambda k: "restored_key" if k in back else "late_arriving"


def incremental_verdict(
    profile: str,
    day: int,
    causes: Callable[[str, Differences], Mapping[str, Finding]],
    **replayed: Any,
) -> Verdict:
    """The verdict of an incremental load followed with ``replay(**replayed)``: ``causes`` names each kind of
    difference it makes (a kind it does not name must not occur)."""
    out: Verdict = {}
    for table in KEYS:
        found = differences(profile, day, table, replay(profile, day, table, **replayed))
        findings = dict(causes(table, found))
        for kind in ("missing", "unexpected", "duplicated", "differing"):
            assert kind in findings or not getattr(found, kind), f"{table}: the replay {kind} {getattr(found, kind)}"
        findings = {k: f for k, f in findings.items() if f.causes is None or any(f.causes.values())}
        if findings:
            out[QUALIFIED[table]] = TableVerdict(findings)
    return out


def no_look_back(profile: str, day: int) -> Verdict:
    return incremental_verdict(
        profile,
        day,
        lambda t, d: {"missing": by_cause(d.missing, late_or_restored(profile, day, t))},
        look_back=None,
    )


def older_copy(profile: str, day: int, table: str, read: int, k: int) -> str:
    """What a row read on day ``read`` misses of the key's row on ``day``: its soft delete (deleted_at set
    since), or another update."""
    was = rows(profile, read, table)["deleted_at"][at(profile, read, table)[k]]
    now = rows(profile, day, table)["deleted_at"][at(profile, day, table)[k]]
    return "soft_delete" if was == NULL_TS and now != NULL_TS else "stale_version"


def stale_copies(profile: str, day: int, table: str, held: Mapping[int, list[int]], keys: set[int]) -> Finding:
    """The differing rows of ``keys``, each named by what its stale copy misses; exact unless a key holds stale
    copies that miss different things (then which copy is named is the oracle's choice)."""
    days = change_days(profile, table)
    named: dict[int, set[str]] = {
        k: {older_copy(profile, day, table, r, k) for r in held[k] if any(r < d <= day for d in days.get(k, []))}
        for k in keys
    }
    if all(len(v) == 1 for v in named.values()):
        return Finding(causes=Counter(next(iter(v)) for v in named.values()))
    return Finding(count=len(keys), may_be=frozenset().union(*named.values()), keys=frozenset(keys))


def append_at_or_past_the_mark(profile: str, day: int) -> Verdict:
    def causes(table: str, found: Differences) -> dict[str, Finding]:
        # A key read again is held again: every row changed since its first read, and the rows at the mark. A
        # key holding an older copy is also a differing row (the copy misses an update, or a soft delete).
        held = replay(profile, day, table, look_back=None, inclusive=True, append=True)
        return {
            "missing": by_cause(found.missing, late_or_restored(profile, day, table)),
            "duplicated": Finding(causes={"duplicate_key": len(found.duplicated)}),
            "differing": stale_copies(profile, day, table, held, found.differing),
        }

    return incremental_verdict(profile, day, causes, look_back=None, inclusive=True, append=True)


def created_at_watermark(profile: str, day: int) -> Verdict:
    def causes(table: str, found: Differences) -> dict[str, Finding]:
        held = replay(profile, day, table, watermark="created_at")
        return {
            "missing": by_cause(found.missing, late_or_restored(profile, day, table)),
            "differing": stale_copies(profile, day, table, held, found.differing),
        }

    return incremental_verdict(profile, day, causes, watermark="created_at")


def no_delete_detection(profile: str, day: int) -> Verdict:
    return incremental_verdict(
        profile, day, lambda t, d: {"unexpected": by_cause(d.unexpected, lambda k: "hard_delete")}, deletes=False
    )


def soft_deleted(profile: str, day: int, table: str) -> int:
    return int((rows(profile, day, table)["deleted_at"] != NULL_TS).sum())


def active_rows_only_copy(profile: str, day: int) -> Verdict:
    return {
        QUALIFIED[t]: TableVerdict({"missing": Finding(causes={"soft_delete": soft_deleted(profile, day, t)})})
        for t in KEYS
        if soft_deleted(profile, day, t)
    }


def active_rows_only_increments(profile: str, day: int) -> Verdict:
    # Never read once deleted_at is set: missing if it was set before the row was first read, else held live.
    return incremental_verdict(
        profile,
        day,
        lambda t, d: {
            "missing": by_cause(d.missing, lambda k: "soft_delete"),
            "differing": by_cause(d.differing, lambda k: "soft_delete"),
        },
        live_only=True,
    )


def tombstones_never_restored(profile: str, day: int) -> Verdict:
    out: Verdict = {}
    for table in KEYS:
        # Every key deleted by this day was flagged; one back since is held live next to its flagged tombstone.
        both = hard_deleted_by(profile, day, table) & present(profile, day, table)
        if both:
            out[QUALIFIED[table]] = TableVerdict({"flagged_held": Finding(causes={"restored_key": len(both)})})
    return out


def fixed_columns(profile: str, day: int) -> Verdict:
    if "loyalty_tier" not in rows(profile, day, "customers"):
        return {}
    return {"jaffle_shop.customers": TableVerdict(missing_columns=("loyalty_tier",), line="loyalty_tier")}


def _all(columns: dict[str, np.ndarray]) -> np.ndarray:
    return np.ones(columns["created_at"].size, dtype=bool)


def _cents(column: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    return lambda columns: columns[column] % 100 != 0


# Every table has created_at: a time-zone shift changes every row, and created_at is named in each table.
SHIFTED = {table: ("created_at", _all) for table in KEYS}
MONEY = {"products": "price", "order_items": "unit_price", "payments": "amount", "campaigns": "budget"}


def _every_row(cause: str, columns: Mapping[str, tuple[str, Callable[[dict[str, np.ndarray]], np.ndarray]]]) -> Expect:
    def expect(profile: str, day: int) -> Verdict:
        out: Verdict = {}
        for table, (column, changed) in columns.items():
            values = rows(profile, day, table)
            count = int(changed(values).sum()) if column in values else 0
            if count:
                finding = Finding(causes={cause: count}, named=frozenset({column}))
                out[QUALIFIED[table]] = TableVerdict({"differing": finding})
        return out

    return expect


@cache
def check_strategy(profile: str, last: int) -> dict[str, tuple[int, int]]:
    """Per table, (versions missing, versions differing) in a snapshot that opens a version only when a column
    other than the audit ones changes, against one that opens a version at every end-of-day change: the truth's
    versions are (key, updated_at); a version's valid_to is the next one's valid_from, or it is closed when its
    key goes (then its valid_to is not compared)."""
    closed = "closed"
    out = {}
    for table, key in KEYS.items():
        checked = [c for c in rows(profile, last, table) if c != key and c not in AUDIT_COLUMNS]
        truth: dict[tuple[int, int], Any] = {}
        kept: dict[tuple[int, int], Any] = {}
        truth_open: dict[int, int] = {}
        kept_open: dict[int, tuple[int, tuple[Any, ...]]] = {}
        for day in range(last + 1):
            columns = rows(profile, day, table)
            blank = np.full(columns[key].size, "", dtype=object)  # a column not added yet: NULL
            values = zip(*(columns.get(c, blank).tolist() for c in checked), strict=True)
            seen = set()
            for k, stamp, check in zip(columns[key].tolist(), columns["updated_at"].tolist(), values, strict=True):
                seen.add(k)
                if truth_open.get(k) != stamp:
                    if k in truth_open:
                        truth[(k, truth_open[k])] = stamp
                    truth[(k, stamp)], truth_open[k] = None, stamp
                if k not in kept_open or kept_open[k][1] != check:
                    if k in kept_open:
                        kept[(k, kept_open[k][0])] = stamp
                    kept[(k, stamp)], kept_open[k] = None, (stamp, check)
            for k in set(truth_open) - seen:
                truth[(k, truth_open.pop(k))] = closed
            for k in set(kept_open) - seen:
                kept[(k, kept_open.pop(k)[0])] = closed
        assert not set(kept) - set(truth), "a kept version is always one of the end-of-day versions"
        differing = sum(1 for v in set(truth) & set(kept) if truth[v] != closed and kept[v] != truth[v])
        out[table] = (len(set(truth) - set(kept)), differing)
    return out


def snapshot_on_business_columns(profile: str, day: int) -> Verdict:
    out: Verdict = {}
    # The business columns are every column but the audit ones: the only changes a check on them misses are the
    # soft deletes (deleted_at and updated_at), so every missed version and every interval it leaves open is one.
    for table, (missing, differing) in check_strategy(profile, day).items():
        findings = {}
        if missing:
            findings["missing"] = Finding(causes={"soft_delete": missing})
        if differing:
            findings["differing"] = Finding(causes={"soft_delete": differing}, named=frozenset({"valid_to"}))
        if findings:
            out[QUALIFIED[table]] = TableVerdict(findings)
    return out


def first_change_kept(profile: str, day: int) -> Verdict:
    """A consumer keeping the first change of each key in a day: a customer saved twice on the last day it
    changed is held as its first save (30 minutes earlier, otherwise the same)."""
    last: dict[int, bool] = {}
    for d in range(1, day + 1):
        change = changes(profile, d)["customers"]
        twice = set(change.touched["customer_id"].tolist()) if change.touched_rows else set()
        for k in change.inserted["customer_id"].tolist():
            last[k] = False
        for k in change.updated["customer_id"].tolist():
            last[k] = k in twice
    count = sum(last.values())
    if not count:
        return {}
    finding = Finding(causes={"saved_twice": count}, named=frozenset({"updated_at"}))
    return {"jaffle_shop.customers": TableVerdict({"differing": finding})}


EXPECTED: dict[str, Expect] = {
    **dict.fromkeys(CORRECT, passes),
    "no_look_back": no_look_back,
    "append_at_or_past_the_mark": append_at_or_past_the_mark,
    "created_at_watermark": created_at_watermark,
    "no_delete_detection": no_delete_detection,
    "active_rows_only_copy": active_rows_only_copy,
    "active_rows_only_increments": active_rows_only_increments,
    "tombstones_never_restored": tombstones_never_restored,
    "fixed_columns": fixed_columns,
    "tokyo_time": _every_row("time_zone", SHIFTED),
    "la_paz_time": _every_row("time_zone", SHIFTED),
    "email_in_20_characters": _every_row(
        "truncated", {"customers": ("email", lambda c: np.char.str_len(c["email"].astype(str)) > 20)}
    ),
    "money_as_integer": _every_row("narrowed", {t: (c, _cents(c)) for t, c in MONEY.items()}),
    "null_as_empty_text": _every_row(
        "null_as_empty", {"customers": ("loyalty_tier", lambda c: c["loyalty_tier"] == "")}
    ),
    "snapshot_on_business_columns": snapshot_on_business_columns,
    "consumer": passes,
    "consumer_keeping_the_first_change": first_change_kept,
}


# --- Comparing the report with the verdict -----------------------------------------------------------------------


def kind_of(name: str) -> str | None:
    """The kind of a finding from its key in the report's JSON (``rows_missing``, ``keys_held_more_than_once``...)."""
    for part, kind in (
        ("not_flagged", "not_flagged"),
        ("flagged", "flagged_held"),
        ("left_open", "not_closed"),
        ("more_than_once", "duplicated"),
        ("does_not_hold", "unexpected"),
        ("missing", "missing"),
        ("differ", "differing"),
    ):
        if part in name:
            return kind
    return None


def mentions(text: str, column: str) -> bool:
    """``text`` names ``column`` (also as the end of a longer name: dbt_valid_to names valid_to)."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(column)}\b", text) is not None or f"_{column}" in text


def mismatches(report: Report, verdict: Verdict) -> list[str]:
    """What in the report is not the verdict, as lines; none when they agree."""
    problems = []
    if report.ok != (not verdict):
        problems.append(f"ok is {report.ok}, expected {not verdict}")
    for table in report.tables:
        want = verdict.get(table.table, TableVerdict())
        found = {
            kind_of(name): value
            for name, value in table.to_dict().items()
            if isinstance(value, dict) and value.get("count") and kind_of(name)
        }
        where = table.table
        if set(found) != set(want.findings):
            problems.append(f"{where}: findings {sorted(map(str, found))}, expected {sorted(want.findings)}")
        for kind, expected in want.findings.items():
            got = found.get(kind)
            if got is None:
                continue
            causes: Counter[str] = Counter(got["causes"])
            if expected.causes is not None and causes != Counter(expected.causes):
                problems.append(f"{where} {kind}: causes {dict(causes)}, expected {dict(expected.causes)}")
            if expected.causes is None:
                if expected.count is not None and got["count"] != expected.count:
                    problems.append(f"{where} {kind}: {got['count']}, expected {expected.count}")
                if not set(causes) <= expected.may_be:
                    problems.append(f"{where} {kind}: causes {dict(causes)}, expected among {sorted(expected.may_be)}")
                listed = {s["key"] if not isinstance(s["key"], list) else tuple(s["key"]) for s in got["sample"]}
                if expected.keys is not None and not listed <= expected.keys:
                    problems.append(f"{where} {kind}: keys {sorted(listed - expected.keys)[:10]} unexpected")
            for column in expected.named:
                line = next((x for x in table.lines() if "differ" in x), "")
                if not (mentions(line, column) and "e.g." in line):
                    problems.append(f"{where} {kind}: the line does not name {column} with an example: {line!r}")
                sampled = {c for s in got["sample"] for c in s.get("columns", {})}
                if not any(mentions(c, column) for c in sampled):
                    problems.append(f"{where} {kind}: the sample's columns {sorted(sampled)} do not hold {column}")
        if tuple(table.missing_columns) != want.missing_columns:
            problems.append(f"{where}: missing columns {table.missing_columns}, expected {list(want.missing_columns)}")
        if table.unexpected_columns:
            problems.append(f"{where}: unexpected columns {table.unexpected_columns}")
        if want.line and not any(want.line in x for x in table.lines()):
            problems.append(f"{where}: no line names {want.line}: {table.lines()}")
    return problems


# --- Sources, targets, runs ------------------------------------------------------------------------------------------


class Sources:
    """Each profile simulated once per module (and worker), its every day kept as a DuckDB file of its own: the
    pipelines replay the days from these copies without simulating again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.simulated: set[str] = set()

    def day(self, profile: str, day: int) -> Path:
        if profile not in self.simulated:
            live = self.folder / f"{profile}.duckdb"
            simulator = Simulator(DuckDBSession.for_database(str(live)), profile=profile, log=QUIET)
            for d in range(LAST_DAY[profile] + 1):
                if d:
                    simulator.apply_delta(d)
                else:
                    simulator.load_baseline()
                shutil.copyfile(live, self.folder / f"{profile}-{d}.duckdb")
            self.simulated.add(profile)
        return self.folder / f"{profile}-{day}.duckdb"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    return Sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="module")
def pg_targets(request: pytest.FixtureRequest) -> Iterator[tuple[PostgresServer, str]]:
    """One database for every PostgreSQL target of the module (each pipeline in schemas of its own), named for
    the xdist worker: a server given by SOURCE_SIMULATOR_PG_URI is shared by the workers."""
    import psycopg

    server: PostgresServer = request.getfixturevalue("postgres")
    database = f"pipeline_matrix_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    with psycopg.connect(server.uri(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    yield server, database
    with psycopg.connect(server.uri(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


class Target:
    """Where a pipeline writes: a DuckDB file, or schemas in the module's PostgreSQL database."""

    def __init__(self, kind: str, folder: Path, postgres: tuple[PostgresServer, str] | None) -> None:
        self.kind, self.folder, self.postgres = kind, folder, postgres

    @contextmanager
    def warehouse(self, pipeline: Pipeline) -> Iterator[Callable[[], Any]]:
        """Opens the target for the test; yields a function giving a warehouse connection for each run."""
        if self.kind == "duckdb":
            path = self.folder / "warehouse.duckdb"

            @contextmanager
            def duck() -> Iterator[Warehouse]:
                with closing(duckdb.connect(str(path))) as conn:  # closed before the check opens the file
                    yield Warehouse(conn, "duckdb")

            yield duck
            return
        import psycopg

        assert self.postgres is not None
        server, database = self.postgres
        with psycopg.connect(server.uri(database), autocommit=True) as conn:
            for schema in [*pipeline.target_schemas(), STATE_SCHEMA]:  # a schema left by the other profile's run
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

            @contextmanager
            def pg() -> Iterator[Warehouse]:
                yield Warehouse(conn, "postgres")

            yield pg

    def session(self, monkeypatch: pytest.MonkeyPatch) -> Session:
        if self.kind == "duckdb":
            return DuckDBSession.for_database(str(self.folder / "warehouse.duckdb"))
        assert self.postgres is not None
        server, database = self.postgres
        monkeypatch.setenv("AIRFLOW_CONN_MATRIX_TARGET", server.airflow_connection(database))
        return postgres_session("matrix_target")


@pytest.fixture(params=["duckdb", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    postgres = request.getfixturevalue("pg_targets") if request.param == "postgres" else None
    return Target(str(request.param), tmp_path, postgres)


def check(source: Session, target: Session, pipeline: Pipeline) -> Report:
    return verify_target(
        source_session=source, target_session=target, log=QUIET, sample_size=EVERY_KEY, **pipeline.options()
    )


def day_failures(name: str, profile: str, day: int, report: Report) -> list[str]:
    problems = mismatches(report, EXPECTED[name](profile, day))
    if problems:
        return [f"day {day}: " + p for p in problems] + [f"day {day}:   oracle: {x}" for x in report.lines()]
    return []


PIPELINES: dict[str, Pipeline] = {**CORRECT, **BUGGY}


# Both profiles on DuckDB; on PostgreSQL the cdc profile, whose days hold every change the classic ones do and
# more (late rows, hard deletes, restored keys, double saves, the schema change): the engine's own reading of
# the target (COPY as text, its types) is what PostgreSQL adds, and the cdc days exercise all of it.
@pytest.mark.parametrize(
    ("target", "profile"), [("duckdb", "cdc"), ("duckdb", "classic"), ("postgres", "cdc")], indirect=["target"]
)
@pytest.mark.parametrize("name", list(PIPELINES))
def test_the_oracle_gives_each_pipeline_its_exact_verdict_every_day(
    name: str, profile: str, target: Target, sources: Sources, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = PIPELINES[name]
    problems: list[str] = []
    with target.warehouse(pipeline) as warehouse:
        for day in range(LAST_DAY[profile] + 1):
            source = sources.day(profile, day)
            with closing(duckdb.connect(str(source), read_only=True)) as db, warehouse() as wh:
                pipeline.run(db, wh)
            report = check(DuckDBSession.for_database(str(source)), target.session(monkeypatch), pipeline)
            problems += day_failures(name, profile, day, report)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("profile", ["cdc", "classic"])
def test_logical_decoding_consumers_from_a_pgoutput_slot(
    profile: str, pg_conn_id: str, postgres: PostgresServer, pg_database: str, tmp_path: Path
) -> None:
    """Two consumers of the source's publication, each with its own slot, into DuckDB: one applying the last
    change of each key, one the first."""
    import psycopg

    simulator = Simulator(postgres_session(pg_conn_id), profile=profile, enable_cdc=True, log=QUIET)
    publication = publication_name("jaffle_shop")
    consumers = {
        "consumer": LogicalDecodingConsumer("consumer", slot=f"matrix_last_{profile}", publication=publication),
        "consumer_keeping_the_first_change": LogicalDecodingConsumer(
            "consumer_keeping_the_first_change", slot=f"matrix_first_{profile}", publication=publication, keep="first"
        ),
    }
    problems: list[str] = []
    with psycopg.connect(postgres.uri(pg_database), autocommit=True) as source:
        try:
            for day in range(LAST_DAY[profile] + 1):
                if day:
                    simulator.apply_delta(day)
                else:
                    simulator.load_baseline()
                for name, consumer in consumers.items():
                    path = tmp_path / f"{name}.duckdb"
                    with closing(duckdb.connect(str(path))) as conn:
                        consumer.run(source, Warehouse(conn, "duckdb"))
                    report = check(postgres_session(pg_conn_id), DuckDBSession.for_database(str(path)), consumer)
                    problems += [f"{name} " + p for p in day_failures(name, profile, day, report)]
        finally:
            for consumer in consumers.values():
                source.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                    [consumer.slot],
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [*BUGGY, "consumer_keeping_the_first_change"])
def test_every_bug_shows_by_the_last_cdc_day(name: str) -> None:
    """No buggy pipeline's test is vacuous: the generator gives each bug something to get wrong."""
    assert EXPECTED[name]("cdc", LAST_DAY["cdc"]), f"{name}: nothing to get wrong by cdc day {LAST_DAY['cdc']}"
