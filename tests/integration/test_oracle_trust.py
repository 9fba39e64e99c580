"""The oracle, trusted, on real DuckDB and PostgreSQL targets: a correct target with a loader's usual quirks
passes (loader patterns that match nothing, a table not created while its source is empty, upper-case quoted
columns, names holding quotes), and each realistic bug is named by its true cause and column (soft deletes
dropped, a time-zone shift either way, NULL stored as '', text cut short, money as an integer, a restored key
next to its tombstone).

Each target starts as a perfect replica of cdc day 7 (the simulator's own load into the target), then one
statement of damage; the expectations are computed from the generator."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from airflow_source_simulator import verify_target
from airflow_source_simulator.data.calendar import NULL_TS
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.data.generate import state
from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR
from airflow_source_simulator.oracle import Report
from airflow_source_simulator.sessions.base import Session
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.sources import postgres_session

QUIET = logging.getLogger("tests.oracle.trust")
DAY = 7
SCHEMAS = {"jaffle_shop": "jaffle_shop", "jaffle_crm": "jaffle_crm"}
TRUTH = state(DAY, 1, "cdc")


@dataclass
class Target:
    """A target database holding a perfect replica of cdc day 7, and a way to run the pipeline's damage."""

    engine: str
    session: Callable[[], Session]
    run: Callable[[str], None]

    def check(self, **options: Any) -> Report:
        options.setdefault("target_schema", SCHEMAS)
        return verify_target(day=DAY, profile="cdc", target_session=self.session(), log=QUIET, **options)


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "replica.duckdb"
    Simulator(DuckDBSession.for_database(str(path)), profile="cdc", log=QUIET).apply_delta(DAY, fast_forward=True)
    return path


def _against_source(source: Path, target: Target) -> Report:
    """The check of ``target`` against the source in the DuckDB file ``source``."""
    return verify_target(
        source_session=DuckDBSession.for_database(str(source)),
        target_session=target.session(),
        target_schema=SCHEMAS,
        log=QUIET,
    )


def _duckdb_target(replica: Path, tmp_path: Path) -> Target:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "target.duckdb"
    shutil.copy(replica, path)

    def run(sql: str) -> None:
        with duckdb.connect(str(path)) as db:
            db.execute(sql)

    return Target("duckdb", lambda: DuckDBSession.for_database(str(path)), run)


def _postgres_target(conn_id: str) -> Target:
    Simulator(postgres_session(conn_id), profile="cdc", log=QUIET).apply_delta(DAY, fast_forward=True)

    def run(sql: str) -> None:
        session = postgres_session(conn_id)
        with session.hold():
            session.hook.run(sql)

    return Target("postgres", lambda: postgres_session(conn_id), run)


@pytest.fixture(params=["duckdb", "postgres"])
def target(request: pytest.FixtureRequest, replica: Path, tmp_path: Path) -> Iterator[Target]:
    if request.param == "duckdb":
        yield _duckdb_target(replica, tmp_path)
    else:
        yield _postgres_target(request.getfixturevalue("pg_conn_id"))


def finding(report: Report, table: str, noun: str) -> dict[str, Any]:
    return dict(report.to_dict()["tables"][table][noun])


def line(report: Report, table: str, start: str) -> str:
    found = [x for x in report.lines() if x.startswith(f"{table}: {start}")]
    assert len(found) == 1, report.lines()
    return found[0]


def soft_deleted(table: str) -> set[int]:
    columns = TRUTH.table(table)
    key = next(iter(columns))
    return {int(k) for k in columns[key][columns["deleted_at"] != NULL_TS]}


# --- correct targets that must pass ---------------------------------------------------------------------


def test_a_perfect_replica_passes_with_every_loaders_patterns_even_those_matching_nothing(target: Target) -> None:
    target.run("ALTER TABLE jaffle_shop.customers ADD COLUMN _dlt_load_id VARCHAR(20)")
    report = target.check(ignore_columns=["_dlt_*", "_fivetran_*", "_airbyte_*"])
    assert report.ok, report.lines()
    assert report.to_dict()["tables"]["jaffle_shop.customers"]["columns"]["ignored"] == ["_dlt_load_id"]
    assert report.summary().endswith(f"8 tables, {sum(t.found_rows for t in report.tables):,} rows.")


def test_a_table_absent_while_its_source_is_empty_is_no_difference(tmp_path: Path) -> None:
    path = tmp_path / "day0.duckdb"
    Simulator(DuckDBSession.for_database(str(path)), log=QUIET).load_baseline()
    assert len(state(0, 1).table("payments")["payment_id"]) == 0  # no payment yet at the baseline
    with duckdb.connect(str(path)) as db:
        db.execute("DROP TABLE jaffle_shop.payments")
    report = verify_target(
        day=0, target_session=DuckDBSession.for_database(str(path)), target_schema=SCHEMAS, log=QUIET
    )
    assert report.ok, report.lines()
    payments = report.to_dict()["tables"]["jaffle_shop.payments"]
    assert (payments["absent"], payments["expected_rows"], payments["ok"]) == (True, 0, True)


def test_absent_tables_are_all_named_and_the_others_still_checked(target: Target) -> None:
    target.run("DROP TABLE jaffle_crm.web_sessions")
    target.run("DROP TABLE jaffle_shop.order_items")
    target.run("UPDATE jaffle_shop.products SET name = 'Changed' WHERE product_id = 3")
    report = target.check()
    assert not report.ok
    sessions = len(TRUTH.table("web_sessions")["session_id"])
    assert line(report, "jaffle_crm.web_sessions", "the target") == (
        f"jaffle_crm.web_sessions: the target has no table jaffle_crm.web_sessions ({sessions:,} rows expected)"
    )
    assert "no table jaffle_shop.order_items" in line(report, "jaffle_shop.order_items", "the target")
    assert finding(report, "jaffle_shop.products", "rows_differing")["count"] == 1
    assert [t.table for t in report.tables if not t.ok] == [
        "jaffle_shop.products",
        "jaffle_shop.order_items",
        "jaffle_crm.web_sessions",
    ]


def test_a_chosen_subset_of_tables_is_checked_by_name_or_schema_and_name(target: Target) -> None:
    target.run("DROP TABLE jaffle_crm.email_activity")
    report = target.check(tables=["customers", "jaffle_crm.web_sessions"])
    assert report.ok, report.lines()
    assert [t.table for t in report.tables] == ["jaffle_shop.customers", "jaffle_crm.web_sessions"]


def test_quoted_upper_case_columns_are_read_as_the_catalog_spells_them(target: Target) -> None:
    target.run('ALTER TABLE jaffle_shop.customers RENAME COLUMN email TO "Email"')
    target.run('ALTER TABLE jaffle_shop.customers RENAME COLUMN first_name TO "Förname"')
    report = target.check(column_names={"first_name": "Förname"})
    assert report.ok, report.lines()
    target.run("UPDATE jaffle_shop.customers SET \"Email\" = 'x@example.com' WHERE customer_id = 5")
    report = target.check(column_names={"first_name": "Förname"})
    assert finding(report, "jaffle_shop.customers", "rows_differing")["columns"] == {"email": 1}


@pytest.mark.parametrize("suffix", ['"--', '" x', ".v2", " Copy", "_Ünïcode", "''"])
def test_table_names_holding_quotes_spaces_dots_case_and_letters_are_read_exactly(target: Target, suffix: str) -> None:
    """The target's tables are renamed to ``<table><suffix>``; a plain ``<table>`` beside them is emptied, so
    that reading the wrong one fails."""
    for schema, tables in (("jaffle_shop", ("customers", "products")), ("jaffle_crm", ("campaigns",))):
        for table in tables:
            name = '"' + (table + suffix).replace('"', '""') + '"'
            target.run(f"ALTER TABLE {schema}.{table} RENAME TO {name}")
            target.run(f"CREATE TABLE {schema}.{table} AS SELECT * FROM {schema}.{name} WHERE false")
    report = target.check(
        table_name="{table}" + suffix.replace("{", "{{"), tables=["customers", "products", "campaigns"]
    )
    assert report.ok, report.lines()
    assert report.tables[0].target == f"jaffle_shop.customers{suffix}"
    target.run('DELETE FROM jaffle_shop."customers' + suffix.replace('"', '""') + '" WHERE customer_id = 1')
    damaged = target.check(table_name="{table}" + suffix, tables=["customers"])
    assert finding(damaged, "jaffle_shop.customers", "rows_missing")["count"] == 1


# --- bugs named by their true cause ---------------------------------------------------------------------


def test_dropped_soft_deletes_are_named_soft_delete(target: Target) -> None:
    target.run("DELETE FROM jaffle_shop.customers WHERE deleted_at IS NOT NULL")
    report = target.check()
    missing = finding(report, "jaffle_shop.customers", "rows_missing")
    expected = soft_deleted("customers")
    assert expected and missing["count"] == len(expected)
    assert missing["causes"] == {"soft_delete": len(expected)}


@pytest.mark.parametrize(("hours", "words"), [(9, "9 h ahead"), (-4, "4 h behind")])
def test_a_time_zone_shift_is_named_with_its_columns_and_offset(target: Target, hours: int, words: str) -> None:
    shift = f"INTERVAL '{hours} hours'"
    target.run(
        f"UPDATE jaffle_crm.web_sessions SET session_start = session_start + {shift}, "
        f"session_end = session_end + {shift}, created_at = created_at + {shift}, updated_at = updated_at + {shift}"
    )
    report = target.check()
    differing = finding(report, "jaffle_crm.web_sessions", "rows_differing")
    rows = len(TRUTH.table("web_sessions")["session_id"])
    assert differing["count"] == rows and differing["causes"] == {"time_zone": rows}
    text = line(report, "jaffle_crm.web_sessions", f"{rows:,} rows differ in")
    assert (
        f"all shifted by a constant offset (session_start, session_end, created_at and updated_at are {words} in "
        "every differing row: a time-zone conversion): load timestamps as the source holds them"
    ) in text


def test_null_text_stored_as_empty_is_named_not_the_schema_change(target: Target) -> None:
    target.run("UPDATE jaffle_shop.customers SET loyalty_tier = '' WHERE loyalty_tier IS NULL")
    report = target.check()
    nulls = sum(1 for v in TRUTH.table("customers")["loyalty_tier"] if v in ("", None))
    differing = finding(report, "jaffle_shop.customers", "rows_differing")
    assert differing["causes"] == {"null_as_empty": nulls}
    assert "loyalty_tier holds '' where the source has NULL" in line(report, "jaffle_shop.customers", f"{nulls} rows")


def test_text_cut_short_is_named_with_the_column_and_an_example(target: Target) -> None:
    target.run("UPDATE jaffle_shop.customers SET email = substr(email, 1, 20)")
    emails = [str(e) for e in TRUTH.table("customers")["email"]]
    long = sorted(
        (int(k), e) for k, e in zip(TRUTH.table("customers")["customer_id"], emails, strict=True) if len(e) > 20
    )
    report = target.check()
    differing = finding(report, "jaffle_shop.customers", "rows_differing")
    assert differing["causes"] == {"truncated": len(long)} and differing["columns"] == {"email": len(long)}
    key, email = long[0]
    assert line(report, "jaffle_shop.customers", f"{len(long)} rows differ in email").startswith(
        f"jaffle_shop.customers: {len(long)} rows differ in email (e.g. key {key}: email expected {email!r}, "
        f"found {email[:20]!r}) — all text cut short (email is cut to 20 characters in every differing row)"
    )


def test_money_stored_as_an_integer_is_named_narrowed(target: Target) -> None:
    target.run("ALTER TABLE jaffle_shop.payments ALTER COLUMN amount TYPE INTEGER")
    amounts = TRUTH.table("payments")["amount"]
    cents = int(np.count_nonzero(amounts % 100))  # amounts in cents: those with a fraction of a unit
    report = target.check()
    differing = finding(report, "jaffle_shop.payments", "rows_differing")
    assert cents and differing["causes"] == {"narrowed": cents}
    assert "amount is stored without its fraction" in line(report, "jaffle_shop.payments", f"{cents} rows differ")


def test_one_differing_row_reads_1_row(target: Target) -> None:
    target.run("UPDATE jaffle_crm.campaigns SET campaign_name = 'Renamed' WHERE campaign_id = 2")
    report = target.check()
    text = line(report, "jaffle_crm.campaigns", "1 row differs in campaign_name (e.g. key 2: campaign_name expected")
    assert "found 'Renamed')" in text and "1 rows" not in text


def test_a_restored_key_next_to_its_flagged_tombstone_is_named_restored(target: Target) -> None:
    restored = sorted(
        {int(k) for d in range(1, DAY + 1) for k in day_delta(d, 1, profile="cdc")["web_sessions"].hard_deleted}
        & {int(k) for k in TRUTH.table("web_sessions")["session_id"]}
    )
    assert restored, "the cdc profile restores hard-deleted keys by day 7"
    keys = ", ".join(map(str, restored))
    # A loader's table: no primary key, a delete marker; the tombstones of the restored keys appended next to
    # their live rows (the pipeline never unflags them).
    target.run("CREATE TABLE jaffle_crm.loaded AS SELECT *, false AS _deleted FROM jaffle_crm.web_sessions")
    target.run("DROP TABLE jaffle_crm.web_sessions")
    target.run("ALTER TABLE jaffle_crm.loaded RENAME TO web_sessions")
    target.run(
        "INSERT INTO jaffle_crm.web_sessions SELECT session_id, customer_id, session_start, session_end, page_views, "
        f"created_at, updated_at, deleted_at, true FROM jaffle_crm.web_sessions WHERE session_id IN ({keys})"
    )
    report = target.check(deleted_column="_deleted", tables=["web_sessions"])
    flagged = finding(report, "jaffle_crm.web_sessions", "rows_flagged_deleted_that_the_source_holds")
    assert flagged["causes"] == {"restored_key": len(restored)}


def test_rows_of_the_users_own_in_several_tables_are_expected_in_the_target(replica: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.duckdb"
    shutil.copy(replica, source)
    with duckdb.connect(str(source)) as db:  # rows a user added to the source, with IDs from the custom floor
        db.execute(
            "INSERT INTO jaffle_shop.products SELECT * REPLACE (product_id + 1000000000 AS product_id) "
            "FROM jaffle_shop.products WHERE product_id <= 2"
        )
        db.execute(
            "INSERT INTO jaffle_crm.campaigns SELECT * REPLACE (campaign_id + 1000000000 AS campaign_id) "
            "FROM jaffle_crm.campaigns WHERE campaign_id = 1"
        )
    target = _duckdb_target(source, tmp_path / "target")

    def check() -> Report:
        return _against_source(source, target)

    report = check()
    assert report.ok, report.lines()
    target.run("DELETE FROM jaffle_crm.campaigns WHERE campaign_id = 1000000001")
    assert finding(check(), "jaffle_crm.campaigns", "rows_missing")["sample"][0]["key"] == 1000000001


def test_a_table_absent_from_the_target_expects_the_users_own_rows_too(replica: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.duckdb"
    shutil.copy(replica, source)
    with duckdb.connect(str(source)) as db:  # a campaign the user added to the source, with an ID from the floor
        db.execute(
            f"INSERT INTO jaffle_crm.campaigns SELECT * REPLACE (campaign_id + {CUSTOM_ID_FLOOR} AS campaign_id) "
            "FROM jaffle_crm.campaigns WHERE campaign_id = 1"
        )
    target = _duckdb_target(replica, tmp_path / "target")
    target.run("DROP TABLE jaffle_crm.campaigns")
    report = _against_source(source, target)
    campaigns = report.to_dict()["tables"]["jaffle_crm.campaigns"]
    expected = len(TRUTH.table("campaigns")["campaign_id"]) + 1
    assert (campaigns["absent"], campaigns["expected_rows"], campaigns["ok"]) == (True, expected, False)
    assert line(report, "jaffle_crm.campaigns", "the target") == (
        f"jaffle_crm.campaigns: the target has no table jaffle_crm.campaigns ({expected:,} rows expected)"
    )


def test_a_report_lists_ten_example_keys_of_a_difference_unless_told(replica: Path, tmp_path: Path) -> None:
    target = _duckdb_target(replica, tmp_path)
    target.run("DELETE FROM jaffle_shop.orders WHERE order_id <= 30")
    missing = finding(target.check(), "jaffle_shop.orders", "rows_missing")
    assert missing["count"] == 30
    assert [s["key"] for s in missing["sample"]] == list(range(1, 11))
    assert len(finding(target.check(sample_size=25), "jaffle_shop.orders", "rows_missing")["sample"]) == 25


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read")
print("OPEN", flush=True)
time.sleep(float(sys.argv[3]))
"""


def _holder(path: Path, how: str, seconds: float) -> subprocess.Popen[str]:
    """Another process with the DuckDB file at ``path`` open (``read`` only or to ``write``) for ``seconds``."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), how, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "OPEN"
    return holder


def _source_and_target(replica: Path, tmp_path: Path, held: str) -> tuple[Path, Callable[[], Report]]:
    """The file of the ``held`` side ("source" or "target") and the check of a replica target against a copy of
    the source, each in a file of its own."""
    source = tmp_path / "source.duckdb"
    shutil.copy(replica, source)
    target = _duckdb_target(replica, tmp_path / "target")
    return (source if held == "source" else tmp_path / "target" / "target.duckdb"), lambda: _against_source(
        source, target
    )


@pytest.mark.parametrize("held", ["source", "target"])
def test_the_check_only_reads_so_it_runs_beside_another_reader(
    replica: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: str
) -> None:
    monkeypatch.setattr(DuckDBSession, "lock_wait_seconds", 2.0)  # opening the file for writing would fail
    path, check = _source_and_target(replica, tmp_path, held)
    reader = _holder(path, "read", 60)
    try:
        report = check()
        assert report.ok, report.lines()
        assert report.day == DAY
    finally:
        reader.kill()
        reader.wait()


@pytest.mark.parametrize("held", ["source", "target"])
def test_waiting_for_another_process_writing_is_told_to_the_callers_logger(
    replica: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, held: str
) -> None:
    path, check = _source_and_target(replica, tmp_path, held)
    writer = _holder(path, "write", 1.5)
    try:
        with caplog.at_level(logging.INFO):
            report = check()
        assert report.ok, report.lines()
    finally:
        writer.kill()
        writer.wait()
    told = [r for r in caplog.records if "in use by another" in r.getMessage()]
    assert [r.getMessage() for r in told] == [
        f"The DuckDB file {path} is in use by another process (PID {writer.pid}); waiting up to 60 s for it."
    ]
    assert [r.name for r in told] == [QUIET.name]
