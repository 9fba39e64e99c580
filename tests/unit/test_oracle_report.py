"""The report a check returns, built without a database: the JSON a task returns (XCom, the command line's
--json), how its values are written there, and the wording of the lines the log prints."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal

from airflow_source_simulator.oracle.causes import ADVICE, Cause
from airflow_source_simulator.oracle.report import Finding, Report, TableReport, plain

LATE, UNEXPLAINED = ADVICE[Cause.LATE_ARRIVING], ADVICE[Cause.UNEXPLAINED]


def test_timestamps_dates_and_decimals_are_written_as_plain_text() -> None:
    assert plain(dt.datetime(2024, 3, 2, 10, 15, 30)) == "2024-03-02 10:15:30"
    assert plain(dt.date(2024, 3, 2)) == "2024-03-02"
    assert plain(Decimal("12.30")) == "12.30"
    assert plain((7, dt.datetime(2024, 3, 2), Decimal("0.5"))) == [7, "2024-03-02 00:00:00", "0.5"]
    assert plain(7) == 7 and plain("x") == "x" and plain(None) is None


def test_a_version_key_with_its_timestamp_is_sampled_as_json_text() -> None:
    key = (7, dt.datetime(2024, 3, 2, 10, 15))
    finding = Finding.of("versions missing", "version missing", [key], lambda k: (Cause.STALE_VERSION, ""), 5)
    assert json.loads(json.dumps(finding.to_dict()))["sample"] == [
        {"key": [7, "2024-03-02 10:15:00"], "cause": "stale_version", "detail": ""}
    ]


def late(count: int, singular: str = "row missing") -> Finding:
    finding = Finding("rows missing", singular)
    for key in range(count):
        finding.add(Cause.LATE_ARRIVING, {"key": key}, sample=5)
    return finding


def test_one_row_is_counted_in_the_singular_and_not_called_all() -> None:
    assert (
        late(1).line("jaffle_crm.web_sessions") == f"jaffle_crm.web_sessions: 1 row missing — {LATE.what}: {LATE.fix}"
    )
    assert late(2).line("jaffle_crm.web_sessions") == (
        f"jaffle_crm.web_sessions: 2 rows missing — all {LATE.what}: {LATE.fix}"
    )
    assert late(1, singular="").line("t").startswith("t: 1 rows missing — late-arriving")  # no singular given


def test_a_line_of_several_causes_counts_each_in_turn() -> None:
    finding = late(2)
    finding.add(Cause.UNEXPLAINED, {"key": 9}, sample=5)
    assert finding.line("jaffle_shop.orders") == (
        f"jaffle_shop.orders: 3 rows missing — 2 {LATE.what} ({LATE.fix}); 1 {UNEXPLAINED.what} ({UNEXPLAINED.fix})"
    )


def differing(columns: Counter[str], sample: list[dict[str, object]]) -> Finding:
    finding = Finding("rows differing", "row differing", columns=columns)
    for entry in sample:
        finding.add(Cause.UNEXPLAINED, entry, sample=5)
    return finding


def test_three_differing_columns_are_all_named_and_the_example_is_of_the_most_common() -> None:
    columns = Counter({"email": 3, "first_name": 2, "last_name": 1})
    sample: list[dict[str, object]] = [
        {"key": 1},  # an entry without columns
        {"key": 2, "columns": {"first_name": {"expected": "Ann", "found": "ann"}}},
        {"key": 3, "columns": {"email": {"expected": "a@example.com", "found": None}}},
    ]
    assert (
        differing(columns, sample)
        .line("t")
        .startswith(
            "t: 3 rows differ in email, first_name, last_name (e.g. key 3: email expected 'a@example.com', found NULL) — "
        )
    )


def test_no_example_is_shown_when_no_sampled_row_holds_the_most_common_column() -> None:
    columns = Counter({"email": 2, "first_name": 1})
    other = {"key": 2, "columns": {"first_name": {"expected": "Ann", "found": "ann"}}}
    assert differing(columns, [other, other]).line("t").startswith("t: 2 rows differ in email, first_name — all ")
    unsampled = Finding("rows differing", "row differing", count=2, causes=Counter({Cause.UNEXPLAINED: 2}))
    unsampled.columns = columns
    assert unsampled.line("t").startswith("t: 2 rows differ in email, first_name — all ")


def table(name: str, missing: int = 0) -> TableReport:
    return TableReport(
        name,
        "raw." + name.split(".")[1],
        expected_rows=10,
        found_rows=10 - missing,
        findings=[late(missing)],
        missing_columns=["loyalty_tier"] if missing else [],
        unexpected_columns=[],
        ignored_columns=["_dlt_id"],
    )


def test_a_tables_json_names_its_target_and_its_columns() -> None:
    out = table("jaffle_shop.customers", missing=2).to_dict()
    assert set(out) == {"target", "ok", "expected_rows", "found_rows", "absent", "columns", "rows_missing", "diagnosis"}
    assert out["target"] == "raw.customers" and out["ok"] is False
    assert out["columns"] == {"missing": ["loyalty_tier"], "unexpected": [], "ignored": ["_dlt_id"]}
    assert out["rows_missing"] == {"count": 2, "causes": {"late_arriving": 2}, "sample": [{"key": 0}, {"key": 1}]}
    json.dumps(out)


def test_a_reports_json_and_failure_message() -> None:
    report = Report(
        "replica",
        day=3,
        scale=1,
        profile="default",
        tables=[table("jaffle_shop.customers", missing=2), table("jaffle_shop.orders"), table("jaffle_crm.visits", 1)],
    )
    out = report.to_dict()
    assert set(out) == {"ok", "mode", "day", "scale", "profile", "summary", "tables"}
    assert (out["ok"], out["mode"], out["day"], out["scale"], out["profile"]) == (False, "replica", 3, 1, "default")
    assert out["summary"] == (
        "✗ The replica target at day 3 (default, scale 1) differs from the simulated source in 2 of 3 tables: "
        "jaffle_shop.customers, jaffle_crm.visits"
    )
    assert list(out["tables"]) == ["jaffle_shop.customers", "jaffle_shop.orders", "jaffle_crm.visits"]
    assert report.failure() == (
        out["summary"] + "\n"
        f"  jaffle_shop.customers: 2 rows missing — all {LATE.what}: {LATE.fix}\n"
        f"  jaffle_crm.visits: 1 row missing — {LATE.what}: {LATE.fix}"
    )
    json.dumps(out)


def test_a_tables_json_counts_your_own_rows_and_carries_its_log_lines() -> None:
    own = TableReport("jaffle_crm.campaigns", "raw.campaigns", expected_rows=6, found_rows=5, custom_rows=1)
    own.unexpected_columns = ["_loaded_at"]
    out = own.to_dict()
    assert out["custom_rows"] == 1 and out["columns"]["unexpected"] == ["_loaded_at"]
    assert out["diagnosis"] == own.lines() and out["diagnosis"]  # the lines the log prints, in the JSON too
    assert "custom_rows" not in table("jaffle_shop.orders").to_dict()  # only where there are some


def test_a_passing_report_counts_one_table_and_one_row_in_the_singular() -> None:
    one = TableReport("jaffle_shop.products", "raw.products", expected_rows=1, found_rows=1)
    assert Report("replica", day=0, scale=1, profile="classic", tables=[one]).summary() == (
        "✓ The replica target at day 0 (classic, scale 1) matches the simulated source: 1 table, 1 row."
    )
    two = [one, TableReport("jaffle_shop.orders", "raw.orders", expected_rows=2, found_rows=2)]
    assert Report("scd2", day=4, scale=2, profile="cdc", tables=two).summary() == (
        "✓ The scd2 target at day 4 (cdc, scale 2) matches the simulated source: 2 tables, 3 rows."
    )
