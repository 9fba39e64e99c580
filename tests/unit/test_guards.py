"""What the guards refuse, from what an inspection found: no database needed."""

from __future__ import annotations

import pytest

from airflow_source_simulator import packaged
from airflow_source_simulator.core import guards
from airflow_source_simulator.core.arguments import parse_flag
from airflow_source_simulator.core.ledger import LedgerEntry
from airflow_source_simulator.core.report import LAYOUT
from airflow_source_simulator.core.states import check_state_size, largest_scale
from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR, max_id
from airflow_source_simulator.errors import ArgumentError, NotOursError, SimulatorError
from airflow_source_simulator.schema import TABLES

SCHEMAS = {"shop": "jaffle_shop", "crm": "jaffle_crm"}


def entry(**changes: object) -> LedgerEntry:
    fields = {
        "seq": 3,
        "operation": "apply_delta",
        "day": 2,
        "scale": 1,
        "profile": "classic",
        "package_version": "0.1.0",
        "ledger_version": 1,
        "state_digest": "",
    }
    return LedgerEntry(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_ledger_from_a_newer_layout_or_an_unknown_profile_is_refused_with_the_remedy() -> None:
    guards.refuse_unreadable_ledger(entry(), "jaffle_shop")
    guards.refuse_unreadable_ledger(None, "jaffle_shop")
    with pytest.raises(SimulatorError, match=r"written by airflow-source-simulator 0\.1\.0 \(ledger version 2\)"):
        guards.refuse_unreadable_ledger(entry(ledger_version=2), "jaffle_shop")
    with pytest.raises(SimulatorError, match=r"holds profile 'chaos'.*ResetOperator\(force=True\)"):
        guards.refuse_unreadable_ledger(entry(profile="chaos"), "jaffle_shop")


def test_foreign_tables_are_refused_unless_owned_or_forced() -> None:
    foreign = guards.Inspection(None, frozenset({"orders", "customers"}), owned=False)
    with pytest.raises(NotOursError, match=r"^jaffle_shop\.customers, jaffle_shop\.orders already exist"):
        guards.refuse_foreign_tables(foreign, SCHEMAS, force=False)  # type: ignore[arg-type]
    guards.refuse_foreign_tables(foreign, SCHEMAS, force=True)  # type: ignore[arg-type]
    guards.refuse_foreign_tables(guards.Inspection(None, frozenset({"orders"}), owned=True), SCHEMAS, force=False)  # type: ignore[arg-type]


def test_another_scale_or_profile_than_the_databases_is_refused() -> None:
    guards.refuse_other_state(entry(), 1, "classic")
    with pytest.raises(SimulatorError, match=r"holds scale 1 \(day 2\); this operation asked for scale 3"):
        guards.refuse_other_state(entry(), 3, "classic")
    with pytest.raises(SimulatorError, match=r"holds the 'classic' profile \(day 2\); .* asked for 'cdc'"):
        guards.refuse_other_state(entry(), 1, "cdc")


def test_the_new_id_ranges_of_a_day_are_the_manifests() -> None:
    before, after = (packaged.manifest()["states"][str(d)]["tables"] for d in (0, 1))
    ranges = {r.table.name: (r.lo, r.hi) for r in guards.new_ids(1, 1)}
    expected = {name: (before[name]["max_id"] or 0) + 1 for name in after if after[name]["rows"] > before[name]["rows"]}
    assert {name: lo for name, (lo, _) in ranges.items()} == expected
    assert all(hi == after[name]["max_id"] for name, (_, hi) in ranges.items())


def test_taken_ids_are_named_by_table_and_range() -> None:
    ranges = guards.new_ids(1, 1)
    guards.refuse_taken_ids(1, {}, ranges, SCHEMAS)  # type: ignore[arg-type]
    with pytest.raises(SimulatorError, match=r"\(jaffle_shop\.orders IDs 501-560: 1 taken\)\. Nothing was changed"):
        guards.refuse_taken_ids(1, {"orders": 1}, ranges, SCHEMAS)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["False", "true", 1, None])
def test_a_flag_is_a_bool_and_text_only_where_a_template_rendered_it(value: object) -> None:
    with pytest.raises(ArgumentError, match=r"is not valid: give True or False \(what it does\)\. Nothing was changed"):
        parse_flag(value, "force", "what it does")
    if isinstance(value, str):
        assert parse_flag(value, "fast_forward", rendered=True) is (value.lower() == "true")


@pytest.mark.parametrize("day", [0, 3, 365, 3650])
def test_a_state_is_refused_exactly_where_its_ids_would_reach_the_custom_floor(day: int) -> None:
    largest = largest_scale(day)
    check_state_size(day, largest)
    assert max(max_id(t.name, day, largest) for t in TABLES) < CUSTOM_ID_FLOOR
    with pytest.raises(
        SimulatorError, match=rf"day {day} at scale {largest + 1} would number \w+ up to [\d,]+, and IDs"
    ):
        check_state_size(day, largest + 1)
    assert max(max_id(t.name, day, largest + 1) for t in TABLES) >= CUSTOM_ID_FLOOR


def test_the_status_box_shows_every_table_once() -> None:
    shown = [t for rows in LAYOUT.values() for row in rows for t in row]
    assert sorted(shown) == sorted(t.name for t in TABLES)


@pytest.mark.parametrize("text", ["³", "٣", "１", "3\u200b"])
def test_only_ascii_digits_make_a_day_or_a_scale(text: str) -> None:
    from airflow_source_simulator.core.arguments import parse_day, parse_scale

    with pytest.raises(ArgumentError, match=r"is not a whole number: give a whole number from 1"):
        parse_day(text)
    with pytest.raises(ArgumentError, match=r"is not valid: give a whole number from 1 to 100,000"):
        parse_scale(text)


def _refusal(refuse: object, *args: object) -> str:
    with pytest.raises(SimulatorError) as refused:
        error = refuse(*args)  # type: ignore[operator]
        if isinstance(error, SimulatorError):  # some guards return the error for the caller to raise
            raise error
    return str(refused.value)


def test_every_remedy_reads_in_the_command_lines_words_there() -> None:
    from airflow_source_simulator.cli import in_cli_words

    foreign = guards.Inspection(None, frozenset({"orders"}), owned=False)
    remedies = {
        _refusal(guards.refuse_no_baseline, 3, SCHEMAS): ["the load command", "give --fast-forward"],
        _refusal(guards.refuse_out_of_order, 5, 3): ["Apply day 4 first", "give --fast-forward"],
        _refusal(guards.refuse_foreign_tables, foreign, SCHEMAS, False): ["(--shop-schema / --crm-schema)", "--force"],
        _refusal(guards.refuse_other_state, entry(), 3, "classic"): ["Give --scale 1", "reset with --scale 3"],
        _refusal(guards.refuse_other_state, entry(), 1, "cdc"): ["Give --profile classic", "with --profile cdc"],
        _refusal(guards.refuse_unreadable_ledger, entry(ledger_version=2), "s"): ["the reset command with --force"],
    }
    for message, words in remedies.items():
        cli = in_cli_words(message)
        assert all(w in cli for w in words), cli
        assert "Operator" not in cli and "=True" not in cli and "scale=" not in cli, cli
    described = "day=0 is not valid: days start at 1 (day 0 is the baseline; use LoadBaselineOperator)."
    assert (
        in_cli_words(described) == "day=0 is not valid: days start at 1 (day 0 is the baseline; use the load command)."
    )


# Each refusal's whole message, down to the separators between the things it names.
def test_foreign_tables_are_refused_with_the_whole_remedy() -> None:
    foreign = guards.Inspection(None, frozenset({"orders"}), owned=False)
    assert _refusal(guards.refuse_foreign_tables, foreign, SCHEMAS, False) == (
        "jaffle_shop.orders already exist but were not created by the source simulator (no ledger in "
        "jaffle_shop.source_simulator_ledger). Nothing was changed. Point the simulator at other schemas "
        "(shop_schema / crm_schema), drop those tables, or pass force=True to take them over."
    )


def test_a_day_out_of_order_is_refused_with_the_whole_remedy() -> None:
    assert _refusal(guards.refuse_out_of_order, 5, 3) == (
        "cannot apply day 5: the database is at day 3. Apply day 4 first (days are applied in order), or pass "
        "fast_forward=True to build the day directly."
    )


def test_an_unknown_profile_in_the_ledger_names_the_profiles_this_version_serves() -> None:
    message = _refusal(guards.refuse_unreadable_ledger, entry(profile="chaos"), "jaffle_shop")
    assert message.startswith("the database holds profile 'chaos' (written by airflow-source-simulator 0.1.0); ")
    assert ", which serves classic, cdc. Nothing was changed. Upgrade airflow-source-simulator" in message


def test_required_columns_of_the_users_own_are_each_named_and_nothing_else() -> None:
    inspection = guards.Inspection(
        None,
        frozenset({"orders", "web_sessions", "customers"}),
        owned=True,
        columns={
            # The simulator's own columns, required or not, and a column of the user's own that may stay NULL
            # are not named; neither is a table the operation does not insert into (customers).
            "orders": {"order_id": True, "status": False, "note": True, "memo": True, "remark": False},
            "web_sessions": {"session_id": True, "device": True},
            "customers": {"vip": True},
        },
    )
    nullable = guards.Inspection(None, frozenset({"orders"}), owned=True, columns={"orders": {"remark": False}})
    guards.refuse_required_columns(nullable, {"orders"}, TABLES, SCHEMAS, "apply day 1")  # type: ignore[arg-type]
    assert _refusal(
        guards.refuse_required_columns, inspection, {"web_sessions", "orders"}, TABLES, SCHEMAS, "apply day 1"
    ) == (
        "apply day 1 inserts rows into tables with columns of your own that every row must fill (NOT NULL without "
        "a default): jaffle_shop.orders.note, jaffle_shop.orders.memo, jaffle_crm.web_sessions.device. The "
        "simulator does not fill them, so nothing was changed. Give each a default or allow NULL (ALTER TABLE ... "
        "ALTER COLUMN ...), or drop it."
    )


def test_taken_ids_of_two_tables_are_named_in_the_order_of_the_tables() -> None:
    ranges = guards.new_ids(1, 1)
    assert _refusal(guards.refuse_taken_ids, 1, {"orders": 1, "customers": 2}, ranges, SCHEMAS) == (
        "day 1 inserts rows whose IDs are already taken (jaffle_shop.customers IDs 101-125: 2 taken; "
        "jaffle_shop.orders IDs 501-560: 1 taken). Nothing was changed. Give rows of your own IDs from "
        "1,000,000,000 up, which the simulator never generates, or reset."
    )
