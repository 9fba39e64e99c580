"""Columns a user adds to the simulator's tables: nullable ones ride along, NOT NULL ones without a default
stop an operation that inserts rows before anything changes, with the simulator's message."""

from __future__ import annotations

import pytest

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.simulator import Simulator
from tests.support.harness import Source, holds_state

REQUIRED = (
    "ALTER TABLE jaffle_shop.orders ADD COLUMN note VARCHAR(20) DEFAULT 'x'",
    "ALTER TABLE jaffle_shop.orders ALTER COLUMN note SET NOT NULL",
    "ALTER TABLE jaffle_shop.orders ALTER COLUMN note DROP DEFAULT",
)
MESSAGE = r"columns of your own that every row must fill \(NOT NULL without a default\): jaffle_shop\.orders\.note"


def test_a_required_column_of_yours_is_named_and_nothing_changes(source: Source) -> None:
    Simulator(source.session()).load_baseline()
    source.execute(*REQUIRED)
    before = source.snapshot()
    for operation, call in (
        ("day 1", lambda s: s.apply_delta(1)),
        ("reset", lambda s: s.reset()),
        ("fast-forward", lambda s: s.apply_delta(4, fast_forward=True)),
    ):
        with pytest.raises(SimulatorError, match=MESSAGE) as refused:
            call(Simulator(source.session()))
        assert "nothing was changed" in str(refused.value).lower(), operation
        assert source.snapshot() == before, operation


def test_a_default_or_a_nullable_column_of_yours_rides_along(source: Source) -> None:
    Simulator(source.session()).load_baseline()
    source.execute(
        "ALTER TABLE jaffle_shop.orders ADD COLUMN note VARCHAR(20) DEFAULT 'x'",
        "ALTER TABLE jaffle_shop.customers ADD COLUMN nickname VARCHAR(20)",
    )
    assert Simulator(source.session()).apply_delta(1)["tables"]["jaffle_shop.orders"] == 560
    assert source.execute("SELECT count(*) FROM jaffle_shop.orders WHERE note = 'x'") == [(560,)]
    snapshot = source.snapshot()
    snapshot["jaffle_shop.orders"] = [row[:-1] for row in snapshot["jaffle_shop.orders"]]
    snapshot["jaffle_shop.customers"] = [row[:-1] for row in snapshot["jaffle_shop.customers"]]
    assert holds_state(snapshot, 1)
