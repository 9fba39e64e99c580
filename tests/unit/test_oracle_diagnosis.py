"""How the oracle names a cause from the evidence alone, without a database: column patterns (a time-zone
shift, NULL as '', cut text, narrowed values), the order in which a row's causes are weighed, and the lines the
log prints."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from airflow_source_simulator.oracle import diagnose, patterns
from airflow_source_simulator.oracle.causes import ADVICE, Cause
from airflow_source_simulator.oracle.report import Finding, TableReport, counted
from airflow_source_simulator.oracle.truth import Facts
from airflow_source_simulator.schema import TABLES_BY_NAME, TABLES_BY_NAME_CDC_LATE

CUSTOMERS, PAYMENTS = TABLES_BY_NAME["customers"], TABLES_BY_NAME["payments"]
T = dt.datetime(2024, 3, 2, 10, 15, 30)
H = dt.timedelta(hours=1)


def shifted(offset: dt.timedelta, rows: int = 3) -> dict[int, dict[str, tuple[Any, Any]]]:
    return {k: {"updated_at": (T + k * H, T + k * H + offset), "created_at": (T, T + offset)} for k in range(rows)}


@pytest.mark.parametrize(
    ("offset", "words"),
    [(9 * H, "9 h ahead"), (-4 * H, "4 h behind"), (5.5 * H, "5 h 30 min ahead"), (-14 * H, "14 h behind")],
)
def test_a_constant_offset_of_whole_quarter_hours_is_a_time_zone_shift(offset: dt.timedelta, words: str) -> None:
    found = patterns.find(CUSTOMERS, shifted(offset))
    assert {n: (p.cause, p.offset) for n, p in found.items()} == {
        "updated_at": (Cause.TIME_ZONE, offset),
        "created_at": (Cause.TIME_ZONE, offset),
    }
    assert found["updated_at"].detail == f"updated_at is {words} in every differing row: a time-zone conversion"
    cause, detail = diagnose.differing(1, shifted(offset)[1], Facts(), None, found)
    assert cause == Cause.TIME_ZONE
    assert detail == f"updated_at and created_at are {words} in every differing row: a time-zone conversion"


@pytest.mark.parametrize(
    ("offset", "rows"),
    [
        (15 * H, 3),  # wider than any time zone
        (dt.timedelta(minutes=7), 3),  # not whole quarter hours
        (9 * H, 1),  # one row is no pattern
    ],
)
def test_an_offset_no_time_zone_gives_is_no_time_zone_shift(offset: dt.timedelta, rows: int) -> None:
    assert patterns.find(CUSTOMERS, shifted(offset, rows)) == {}


def test_a_shift_in_most_rows_is_named_with_its_share_and_the_others_keep_their_own_cause() -> None:
    rows = shifted(9 * H, 3)
    rows[3] = {"updated_at": (T, T - dt.timedelta(minutes=77))}  # an older version, not the shift
    found = patterns.find(CUSTOMERS, rows)
    assert found["updated_at"].detail == "updated_at is 9 h ahead in 3 of 4 differing rows: a time-zone conversion"
    assert diagnose.differing(3, rows[3], Facts(), None, found)[0] == Cause.STALE_VERSION
    half = {**shifted(9 * H, 2), 5: {"updated_at": (T, T - H)}, 6: {"updated_at": (T, T - 2 * H)}}
    assert patterns.find(CUSTOMERS, half)["updated_at"].offset == 9 * H  # half the rows is still the pattern
    less = {**half, 7: {"updated_at": (T, T - 3 * H)}}
    assert "updated_at" not in patterns.find(CUSTOMERS, less)


def test_the_first_of_two_saves_is_weighed_before_a_shift_of_thirty_minutes() -> None:
    rows = {k: {"updated_at": (T + k * H, T + k * H - dt.timedelta(minutes=30))} for k in range(4)}
    found = patterns.find(CUSTOMERS, rows)
    assert found["updated_at"].cause == Cause.TIME_ZONE  # a half-hour zone, on this evidence alone
    facts = Facts(saved_twice={1: 3})
    assert diagnose.differing(1, rows[1], facts, None, found)[0] == Cause.SAVED_TWICE
    assert diagnose.differing(2, rows[2], facts, None, found)[0] == Cause.TIME_ZONE


def test_text_cut_to_one_width_is_truncated_and_to_several_is_not() -> None:
    cut = {1: {"email": ("alice.smith@example.com", "alice.smith@example.")}, 2: {"email": ("b" * 30, "b" * 20)}}
    found = patterns.find(CUSTOMERS, cut)
    assert found["email"].cause == Cause.TRUNCATED and found["email"].width == 20
    assert found["email"].detail == "email is cut to 20 characters in every differing row"
    ragged = {1: {"email": ("alice@example.com", "alice@")}, 2: {"email": ("b" * 30, "b" * 20)}}
    assert patterns.find(CUSTOMERS, ragged) == {}
    assert patterns.find(CUSTOMERS, {1: {"email": ("abc", "")}, 2: {"email": ("abd", "")}}) == {}
    longer = {1: {"email": ("abc", "abcd")}, 2: {"email": ("abd", "abde")}}
    assert patterns.find(CUSTOMERS, longer) == {}


def test_null_stored_as_empty_text_is_named_and_not_taken_for_the_schema_change() -> None:
    rows: dict[int, dict[str, tuple[Any, Any]]] = {
        1: {"loyalty_tier": (None, "")},
        2: {"loyalty_tier": (None, "")},
        3: {"loyalty_tier": ("gold", None)},
    }
    found = patterns.find(TABLES_BY_NAME_CDC_LATE["customers"], rows)
    assert found["loyalty_tier"].detail == "loyalty_tier holds '' where the source has NULL, in 2 of 3 differing rows"
    assert diagnose.differing(1, rows[1], Facts(), "loyalty_tier", found)[0] == Cause.NULL_AS_EMPTY
    assert diagnose.differing(3, rows[3], Facts(), "loyalty_tier", found) == (
        Cause.SCHEMA_CHANGE,
        "loyalty_tier is not loaded",
    )


@pytest.mark.parametrize(
    ("expected", "found", "narrowed"),
    [
        (Decimal("164.97"), Decimal("165.00"), True),
        (Decimal("164.97"), Decimal("164.00"), True),
        (Decimal("164.97"), 165, True),
        (Decimal("164.97"), Decimal("166.00"), False),
        (Decimal("164.97"), Decimal("164.90"), False),
        (Decimal("164.97"), True, False),
        (T, T.replace(hour=0, minute=0, second=0), True),
        (T, T.replace(second=0), True),
        (T, T.replace(minute=0, second=0), True),
        (T, T, False),
        (T, T.replace(minute=1), False),
        (T, T.date(), True),
        (T, (T + 24 * H).date(), False),
        ("text", "tex", False),
    ],
)
def test_a_value_with_less_precision_is_narrowed(expected: Any, found: Any, narrowed: bool) -> None:
    assert patterns._narrowed(expected, found) is narrowed


def test_money_without_cents_is_named_narrowed_with_its_column() -> None:
    rows = {1: {"amount": (Decimal("164.97"), Decimal("165.00"))}, 2: {"amount": (Decimal("10.00"), Decimal("11"))}}
    found = patterns.find(PAYMENTS, rows)
    assert found["amount"].detail == "amount is stored without its fraction in 1 of 2 differing rows"
    assert diagnose.differing(1, rows[1], Facts(), None, found)[0] == Cause.NARROWED
    assert diagnose.differing(2, rows[2], Facts(), None, found)[0] == Cause.UNEXPLAINED


def test_a_row_is_put_down_to_a_pattern_only_when_it_explains_every_column() -> None:
    rows = {k: {"email": ("x" * 30, "x" * 20)} for k in range(3)}
    rows[9] = {"email": ("y" * 30, "y" * 20), "first_name": ("Ann", "Anne")}
    found = patterns.find(CUSTOMERS, rows)
    assert diagnose.differing(0, rows[0], Facts(), None, found)[0] == Cause.TRUNCATED
    assert diagnose.differing(9, rows[9], Facts(), None, found)[0] == Cause.UNEXPLAINED
    assert patterns.explain({}, found) == []


def test_missing_rows_are_named_by_what_happened_to_their_key() -> None:
    facts = Facts(restored={1: (2, 4)}, late={2: (3, 0)}, soft_deleted={3: 5, 2: 1}, arrived={4: 6})
    assert diagnose.missing(1, facts, False) == (Cause.RESTORED_KEY, "deleted on day 2, back on day 4")
    assert diagnose.missing(2, facts, False) == (Cause.LATE_ARRIVING, "arrived on day 3")
    assert diagnose.missing(3, facts, False) == (Cause.SOFT_DELETE, "soft-deleted on day 5")
    assert diagnose.missing(4, facts, False) == (Cause.UNEXPLAINED, "inserted on day 6")
    assert diagnose.missing((3, T), facts, True)[0] == Cause.STALE_VERSION


def test_a_flagged_key_the_source_holds_is_a_restored_key_when_it_was_restored() -> None:
    facts = Facts(restored={7: (2, 5)})
    assert diagnose.flagged(7, facts) == (
        Cause.RESTORED_KEY,
        "deleted on day 2, back on day 5: its tombstone is still flagged",
    )
    assert diagnose.flagged(8, facts) == (Cause.UNEXPLAINED, "")


def test_a_differing_line_names_its_columns_and_an_example_and_counts_in_the_singular() -> None:
    finding = Finding("rows differing", "row differing")
    for key, found in ((17, "alice.smith@example."), (18, "bob.jones@example.co")):
        finding.columns.update(["email"])
        entry = {"key": key, "columns": {"email": {"expected": found + "m", "found": found}}}
        finding.add(Cause.TRUNCATED, entry, sample=5)
    finding.details = {Cause.TRUNCATED: "email is cut to 20 characters in every differing row"}
    assert finding.line("jaffle_shop.customers") == (
        "jaffle_shop.customers: 2 rows differ in email (e.g. key 17: email expected 'alice.smith@example.m', "
        "found 'alice.smith@example.') — all text cut short (email is cut to 20 characters in every differing "
        f"row): {ADVICE[Cause.TRUNCATED].fix}"
    )
    one = Finding("rows differing", "row differing", columns=Counter(["a", "b", "c", "d"]))
    one.add(Cause.UNEXPLAINED, {"key": 1, "columns": {"a": {"expected": None, "found": 2}}}, sample=1)
    assert one.line("t").startswith("t: 1 row differs in a, b, c and 1 more (e.g. key 1: a expected NULL, found 2) — ")
    assert counted(1, "rows", "row") == "1 row" and counted(1234, "rows", "row") == "1,234 rows"


def test_an_absent_table_fails_only_when_the_truth_has_rows() -> None:
    empty = TableReport("jaffle_shop.payments", "raw.payments", 0, absent=True)
    assert empty.ok and empty.lines() == [] and empty.to_dict()["absent"] is True
    full = TableReport("jaffle_shop.payments", "raw.payments", 1, absent=True)
    assert not full.ok
    assert full.lines() == ["jaffle_shop.payments: the target has no table raw.payments (1 row expected)"]


def test_a_column_differing_in_one_row_takes_the_shift_its_tables_other_timestamps_show() -> None:
    rows = shifted(9 * H, 3)
    rows[1]["deleted_at"] = (T, T + 9 * H)  # the one soft-deleted row
    found = patterns.find(CUSTOMERS, rows)
    assert found["deleted_at"].offset == 9 * H
    assert found["deleted_at"].detail == "deleted_at is 9 h ahead in every differing row: a time-zone conversion"
    assert diagnose.differing(1, rows[1], Facts(), None, found)[0] == Cause.TIME_ZONE
    alone = {1: {"deleted_at": (T, T + 9 * H)}, 2: {"updated_at": (T, T - H)}}
    assert patterns.find(CUSTOMERS, alone) == {}  # no other column shows a shift: one row is no evidence
    other = shifted(9 * H, 3)
    other[1]["deleted_at"] = (T, T + 2 * H)
    assert "deleted_at" not in patterns.find(CUSTOMERS, other)


def test_a_missed_version_of_a_soft_delete_is_named_soft_delete() -> None:
    day_five = dt.datetime(2024, 5, 1, 10)  # a day after the baseline in the simulated calendar
    day = diagnose._day(day_five)
    assert day is not None and day > 0
    facts = Facts(soft_deleted={4: day})
    assert diagnose.missing((4, day_five), facts, True) == (
        Cause.SOFT_DELETE,
        f"the version of the soft delete of day {day}",
    )
    assert diagnose.missing((5, day_five), facts, True)[0] == Cause.STALE_VERSION
    ended = {"valid_to": (day_five, None)}
    assert diagnose.differing((4, T), ended, facts, None)[0] == Cause.SOFT_DELETE
    assert diagnose.differing((5, T), ended, facts, None)[0] == Cause.STALE_VERSION


def test_a_timestamp_falls_on_its_utc_day_whatever_the_machines_time_zone() -> None:
    early = dt.datetime(2024, 4, 1, 3)  # 03:00 UTC on day 1: the evening of day 0 in a zone 9 h ahead
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TZ", "JST-9")
        time.tzset()
        try:
            assert diagnose._day(early) == 1
        finally:
            env.undo()
            time.tzset()


def test_a_missing_row_with_no_known_insert_is_unexplained_as_inserted_on_day_zero() -> None:
    assert diagnose.missing(9, Facts(), False) == (Cause.UNEXPLAINED, "inserted on day 0")


def test_a_missing_version_of_the_baseline_is_the_version_of_day_zero() -> None:
    baseline = dt.datetime(2024, 3, 31, 12)  # day 0, the last day of the history
    assert diagnose.missing((4, baseline), Facts(), True) == (Cause.STALE_VERSION, "the version of day 0")


def test_an_unexpected_version_is_an_intermediate_save_of_its_key() -> None:
    facts = Facts(saved_twice={3: 2})
    assert diagnose.unexpected((3, T), facts, True) == (Cause.SAVED_TWICE, "an intermediate save on day 2")
    assert diagnose.unexpected(5, facts, False) == (Cause.NOT_IN_SOURCE, "")


def test_the_first_of_two_saves_names_the_day_of_the_second() -> None:
    second = dt.datetime(2024, 4, 3, 12)  # day 3
    columns = {"updated_at": (second, second - dt.timedelta(minutes=30))}
    assert diagnose.differing(1, columns, Facts(saved_twice={1: 3}), None) == (
        Cause.SAVED_TWICE,
        "the target has the first save of day 3",
    )


def test_an_older_updated_at_is_a_missed_soft_delete_only_when_deleted_at_is_missing_and_the_key_was_deleted() -> None:
    later = dt.datetime(2024, 4, 3, 12)  # day 3
    facts = Facts(soft_deleted={1: 3})
    deleted = {"updated_at": (later, later - H), "deleted_at": (later, None)}
    assert diagnose.differing(1, deleted, facts, None) == (Cause.SOFT_DELETE, "the soft delete of day 3 is missing")
    assert diagnose.differing(2, deleted, facts, None) == (Cause.STALE_VERSION, "the update of day 3 is missing")
    updated = {"updated_at": (later, later - H)}
    assert diagnose.differing(1, updated, facts, None) == (Cause.STALE_VERSION, "the update of day 3 is missing")
    flagged = {"updated_at": (later, later - H), "deleted_at": (later, later)}
    assert diagnose.differing(1, flagged, facts, None) == (Cause.STALE_VERSION, "the update of day 3 is missing")


def test_an_updated_at_the_target_matches_or_lacks_is_no_missed_update() -> None:
    same = {"updated_at": (T, T), "first_name": ("Ann", "Anne")}
    assert diagnose.differing(1, same, Facts(), None) == (Cause.UNEXPLAINED, "")
    assert diagnose.differing(1, {"updated_at": (T, None)}, Facts(), None) == (Cause.UNEXPLAINED, "")


def test_a_version_differing_in_valid_from_alone_has_another_validity_interval() -> None:
    assert diagnose.differing((4, T), {"valid_from": (T, T + H)}, Facts(), None) == (
        Cause.STALE_VERSION,
        "its validity interval differs",
    )
