"""An operation that fails or is stopped says which state it left, read back from the ledger; a stop ends it
promptly in the old state; a retry of a task run whose commit went through is a no-op that owns the change."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from airflow_source_simulator.core.ledger import Operation
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.simulator import Simulator
from tests.support.harness import Source, holds_state

RUN = "source_simulator_daily/scheduled__2024-04-01T00:00:00+00:00/apply_day/-1"


def test_a_failure_says_whether_the_commit_went_through(source: Source, caplog: pytest.LogCaptureFixture) -> None:
    simulator = Simulator(source.session())
    simulator.load_baseline()
    with simulator.session.hold():
        plan = simulator.source.day(simulator.inspect(), 1)
        assert simulator._after_failure(plan, RuntimeError("lost")) == (
            "Applying day 01 delta changes failed. Nothing was changed: the database is still at day 0 "
            "(classic, scale 1). Run it again."
        )
        simulator.session.run(plan.work, lambda step: None)
        assert simulator._after_failure(plan, RuntimeError("lost")) == (
            "Applying day 01 delta changes failed after its commit went through: the database is at day 1 "
            "(classic, scale 1). Running it again is a no-op."
        )


def test_a_stopped_operation_ends_promptly_in_the_old_state(source: Source, caplog: pytest.LogCaptureFixture) -> None:
    # Scale 200: a fast-forward of 2.6 M rows takes seconds, so the stop lands while it loads.
    Simulator(source.session(), scale=200).load_baseline()
    before = source.snapshot()
    simulator = Simulator(source.session(), scale=200)
    failures: list[BaseException] = []

    def fast_forward() -> None:
        try:
            simulator.apply_delta(30, fast_forward=True)
        except Exception as error:
            failures.append(error)

    worker = threading.Thread(target=fast_forward)
    with caplog.at_level(logging.INFO):
        worker.start()
        deadline = time.monotonic() + 30
        while "Cleared the simulator's rows" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)  # the operation has begun writing
        stopped_at = time.monotonic()
        simulator.interrupt()
        worker.join(timeout=30)
    assert not worker.is_alive() and len(failures) == 1
    assert time.monotonic() - stopped_at < 5.0, "a stopped operation must end promptly"
    assert "Fast-forwarding to day 30 was stopped. Nothing was changed: the database is still at day 0" in caplog.text
    assert source.snapshot() == before


def test_a_retry_of_a_run_whose_commit_went_through_owns_the_change(source: Source) -> None:
    assert Simulator(source.session(), run_key=RUN).load_baseline()["changed"] is True
    assert Simulator(source.session(), run_key=RUN).load_baseline()["changed"] is True
    assert Simulator(source.session(), run_key="another/run/task/-1").load_baseline()["changed"] is False
    assert Simulator(source.session(), run_key=RUN).apply_delta(1)["changed"] is True
    again = Simulator(source.session(), run_key=RUN).apply_delta(1)
    assert again["changed"] is True and again["day"] == 1
    assert Simulator(source.session()).apply_delta(1)["changed"] is False
    ledger = source.execute("SELECT operation, run_key FROM jaffle_shop.source_simulator_ledger ORDER BY seq")
    assert ledger == [(Operation.LOAD_BASELINE, RUN), (Operation.APPLY_DELTA, RUN)]
    assert holds_state(source.snapshot(), 1)


def test_a_ledger_from_before_run_keys_gains_the_column_in_the_next_writing_operation(source: Source) -> None:
    Simulator(source.session()).load_baseline()
    source.execute("ALTER TABLE jaffle_shop.source_simulator_ledger DROP COLUMN run_key")
    status = Simulator(source.session()).status()
    assert status["day"] == 0
    with pytest.raises(SimulatorError, match="Apply day 1 first"):
        Simulator(source.session()).apply_delta(2)
    assert Simulator(source.session(), run_key=RUN).apply_delta(1)["day"] == 1
    ledger = source.execute("SELECT seq, run_key FROM jaffle_shop.source_simulator_ledger ORDER BY seq")
    assert ledger == [(1, None), (2, RUN)]
