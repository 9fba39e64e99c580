"""Rows of the user's own (IDs from 1,000,000,000) survive a fast-forward as they survive replaying the days,
and verification checks the simulator's rows while reporting the user's apart."""

from __future__ import annotations

import logging

import pytest

from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR, max_id
from airflow_source_simulator.errors import VerificationError
from airflow_source_simulator.simulator import Simulator
from tests.support.harness import Source, holds_state

FLOOR = CUSTOM_ID_FLOOR
OWN_ROWS = (
    f"INSERT INTO jaffle_shop.customers VALUES ({FLOOR}, 'Own', 'Row', 'own@example.com', "
    "TIMESTAMP '2024-05-01 00:00:00', TIMESTAMP '2024-05-01 00:00:00', NULL)",
    f"INSERT INTO jaffle_shop.orders VALUES ({FLOOR + 7}, {FLOOR}, DATE '2024-05-01', 'pending', "
    "TIMESTAMP '2024-05-01 00:00:00', TIMESTAMP '2024-05-01 00:00:00', NULL)",
)


def own_rows(source: Source) -> list[tuple[object, ...]]:
    return source.execute(
        f"SELECT customer_id, email FROM jaffle_shop.customers WHERE customer_id >= {FLOOR} UNION ALL "
        f"SELECT order_id, status FROM jaffle_shop.orders WHERE order_id >= {FLOOR} ORDER BY 1"
    )


def test_fast_forward_keeps_rows_of_your_own_as_replaying_does(
    source: Source, caplog: pytest.LogCaptureFixture
) -> None:
    Simulator(source.session()).load_baseline()
    source.execute(*OWN_ROWS)
    expected = [(FLOOR, "own@example.com"), (FLOOR + 7, "pending")]
    with caplog.at_level(logging.INFO):
        result = Simulator(source.session()).apply_delta(5, fast_forward=True)
    assert own_rows(source) == expected
    assert result["tables"]["jaffle_shop.customers"] == max_id("customers", 5, 1) + 1  # counts include yours
    assert "Cleared the simulator's rows of jaffle_shop.customers (rows of your own" in caplog.text
    assert "Truncated" not in caplog.text
    # The simulator's rows are exactly those of replaying: the snapshot without the user's rows holds day 5.
    snapshot = source.snapshot()
    for table in ("jaffle_shop.customers", "jaffle_shop.orders"):
        snapshot[table] = [row for row in snapshot[table] if row[0] < FLOOR]
    assert holds_state(snapshot, 5)
    # Replaying keeps them too, and gives the same rows.
    replayed = Simulator(source.session()).apply_delta(6)
    assert own_rows(source) == expected and replayed["day"] == 6


def test_verify_checks_the_simulators_rows_and_reports_yours_apart(source: Source) -> None:
    simulator = Simulator(source.session())
    simulator.load_baseline()
    simulator.apply_delta(1)
    source.execute(*OWN_ROWS)
    status = Simulator(source.session()).status(verify=True)
    assert status["verified"] is True
    assert status["custom_rows"] == {"jaffle_shop.customers": 1, "jaffle_shop.orders": 1}
    assert status["tables"]["jaffle_shop.customers"] == 126
    # A changed simulator row is still found, and named as before.
    source.execute("UPDATE jaffle_shop.customers SET email = 'changed@example.com' WHERE customer_id = 3")
    with pytest.raises(VerificationError, match=r"jaffle_shop\.customers: expected 125 rows"):
        Simulator(source.session()).status(verify=True)
