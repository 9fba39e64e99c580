"""A property test: random sequences of load, apply (the next day, or any day, with or without
fast-forward), reset and status on a DuckDB file, against a model of what the manifest says.

After every step the ledger holds exactly the operations the model expects, and every table equals the
manifest's state of the ledger's day; a refused operation changes nothing (the same check: the model did
not move). Days 0-3 are the packaged classic days, 4 and 5 generated ones.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.harness import DuckDBSource, holds_state

LAST_DAY = 5
SETTINGS = settings(
    max_examples=20,
    stateful_step_count=5,
    deadline=None,
    derandomize=True,  # the same sequences on every run, so CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@functools.cache
def manifest_fingerprints() -> dict[int, dict[str, tuple[int, str]]]:
    """The engine's fingerprint of each state 0..LAST_DAY, taken from a source checked against the manifest."""
    folder = Path(tempfile.mkdtemp(prefix="reliability-reference-"))
    try:
        source = DuckDBSource(folder)
        simulator = Simulator(source.session())
        out = {}
        for day in range(LAST_DAY + 1):
            simulator.apply_delta(day) if day else simulator.load_baseline()
            assert holds_state(source.snapshot(), day), f"the reference missed the manifest at day {day}"
            out[day] = source.fingerprint().tables
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class SourceModel(RuleBasedStateMachine):
    """The source as the manifest describes it: its day, and the ledger's operations."""

    tried: ClassVar[dict[str, int]] = {"sequences": 0, "steps": 0, "refused": 0}

    def __init__(self) -> None:
        super().__init__()
        self.tried["sequences"] += 1
        self.folder = Path(tempfile.mkdtemp(prefix="reliability-property-"))
        self.source = DuckDBSource(self.folder)
        self.day: int | None = None
        self.ledger: list[tuple[int, str, int]] = []

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def simulator(self) -> Simulator:
        return Simulator(DuckDBSession.for_database(str(self.source.path)))

    def record(self, operation: str, day: int) -> None:
        self.ledger.append((len(self.ledger) + 1, operation, day))
        self.day = day

    @rule()
    def load(self) -> None:
        result = self.simulator().load_baseline()
        assert result["changed"] is (self.day is None)
        if self.day is None:
            self.record("load_baseline", 0)

    @rule(day=st.integers(1, LAST_DAY), fast_forward=st.booleans())
    def apply_day(self, day: int, fast_forward: bool) -> None:
        simulator = self.simulator()
        if self.day is None and not fast_forward:
            with pytest.raises(SimulatorError, match=f"cannot apply day {day}: no baseline"):
                simulator.apply_delta(day)
            self.tried["refused"] += 1
            return
        if self.day is not None and day > self.day + 1 and not fast_forward:
            with pytest.raises(
                SimulatorError, match=f"the database is at day {self.day}. Apply day {self.day + 1} first"
            ):
                simulator.apply_delta(day)
            self.tried["refused"] += 1
            return
        result = simulator.apply_delta(day, fast_forward=fast_forward)
        if self.day is not None and day <= self.day:
            assert result["changed"] is False and result["day"] == self.day
            return
        assert result["changed"] is True and result["day"] == day
        self.record("apply_delta" if self.day is not None and day == self.day + 1 else "fast_forward", day)

    @precondition(lambda self: self.day is None or self.day < LAST_DAY)
    @rule()
    def apply_next(self) -> None:
        if self.day is None:
            with pytest.raises(SimulatorError, match="cannot apply day next: no baseline"):
                self.simulator().apply_delta("next")
            self.tried["refused"] += 1
            return
        assert self.simulator().apply_delta("next")["day"] == self.day + 1
        self.record("apply_delta", self.day + 1)

    @rule()
    def reset(self) -> None:
        assert self.simulator().reset()["day"] == 0
        self.record("reset", 0)

    @rule()
    def status(self) -> None:
        result = self.simulator().status(verify=self.day is not None)
        assert result["day"] == self.day
        assert result.get("verified", True) is True

    @invariant()
    def the_ledger_and_the_tables_agree_with_the_manifest(self) -> None:
        self.tried["steps"] += 1
        found = self.source.fingerprint()
        assert [row[:3] for row in found.ledger] == self.ledger
        if self.day is None:
            assert found.tables == {} or set(found.tables.values()) == {(0, "d41d8cd98f00b204e9800998ecf8427e")}
        else:
            assert found.tables == manifest_fingerprints()[self.day], (
                f"tables differ from the manifest of day {self.day}"
            )


def test_random_operation_sequences_keep_the_ledger_and_the_data_equal_to_the_manifest(tmp_path: Path) -> None:
    manifest_fingerprints()  # outside the examples, so their time is the sequences'
    # Hypothesis caches what it learns under .hypothesis/ in the working directory: keep the repository clean.
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    try:
        run_state_machine_as_test(SourceModel, settings=SETTINGS)
    finally:
        set_hypothesis_home_dir(None)
    tried = SourceModel.tried
    print(
        f"property test: {tried['sequences']} sequences, {tried['steps']} checked states, {tried['refused']} refusals"
    )
    assert tried["sequences"] >= 15 and tried["refused"] > 0
