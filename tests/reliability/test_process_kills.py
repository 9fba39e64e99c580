"""Operations SIGKILLed in a process of their own, at a dozen moments spread over their run and right after
their ledger statement: the database holds exactly the state before or the state after, and a retry converges.

The operations run in children forked by ``tests.support.killable`` (imports paid once), each killed with
SIGKILL from here: no exception handler, no rollback by the client, no clean close.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import IO

import pytest

from airflow_source_simulator.simulator import Simulator
from tests.support.harness import DuckDBSource, Fingerprint, Source
from tests.support.sources import REPO

SCALE = 10
MOMENTS = 12


@dataclass(frozen=True)
class Operation:
    name: str  # as tests.support.killable names it
    before: Callable[[Simulator], object]  # from an empty source to the state the operation starts from

    def __str__(self) -> str:
        return self.name


def _at(day: int) -> Callable[[Simulator], object]:
    def prepare(simulator: Simulator) -> None:
        simulator.load_baseline()
        for number in range(1, day + 1):
            simulator.apply_delta(number)

    return prepare


OPERATIONS = [
    Operation("load", lambda simulator: None),
    Operation("day", _at(1)),
    Operation("fast_forward", _at(1)),
    Operation("reset", _at(2)),
]


class Forker:
    """The forking process, and its output read line by line."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.killable"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.until("READY")

    @property
    def stdout(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def next_line(self) -> str:
        return self.stdout.readline().strip()

    def start(self, source: Source, operation: Operation) -> int:
        target = str(source.path) if isinstance(source, DuckDBSource) else source.server.airflow_connection(source.name)
        command = {"engine": "duckdb" if isinstance(source, DuckDBSource) else "postgres", "target": target}
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({**command, "operation": operation.name, "scale": SCALE}) + "\n")
        self.process.stdin.flush()
        return int(self.until("START").split()[1])

    def until(self, *words: str) -> str:
        """Read up to a line starting with one of ``words`` (an ``EXIT`` ends the child's output)."""
        while True:
            line = self.next_line()
            assert line, "the forking process ended"
            assert not line.startswith("ERROR"), line
            if line.split(maxsplit=1)[0] in words:
                return line

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def forker() -> Iterator[Forker]:
    forking = Forker()
    yield forking
    forking.close()


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):  # it ended first
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_a_sigkill_at_any_moment_leaves_the_old_or_the_new_state_and_a_retry_converges(
    source: Source, forker: Forker, operation: Operation
) -> None:
    operation.before(Simulator(source.session(), scale=SCALE))
    old: Fingerprint = source.fingerprint()
    source.save()
    # An unkilled run: how long the operation takes, and the state it leaves.
    forker.start(source, operation)
    started = time.monotonic()
    forker.until("DONE")
    duration = time.monotonic() - started
    forker.until("EXIT")
    source.settle()
    new = source.fingerprint()
    assert new != old
    outcomes = []
    moments = [("after", duration * (i + 0.5) / MOMENTS) for i in range(MOMENTS)] + [("ledger", 0.0)]
    for kind, delay in moments:
        source.restore()
        pid = forker.start(source, operation)
        if kind == "ledger":
            forker.until("LEDGER")  # its ledger statement has run: the commit is next
        else:
            time.sleep(delay)
        _kill(pid)
        forker.until("EXIT")
        source.settle()
        left = source.fingerprint()
        assert left in (old, new), (
            f"killed {kind} {delay:.2f} s into {operation} (an unkilled run took {duration:.2f} s): neither the "
            f"old state (it differs in {left.differences(old)}) nor the new one (it differs in {left.differences(new)})"
        )
        outcomes.append("old" if left == old else "new")
        retried = source.fingerprint() if left == new else _retry(source, operation)
        assert retried == new, f"a retry after a kill {kind} {delay:.2f} s into {operation} did not converge"
    assert "old" in outcomes, f"no kill landed before {operation}'s commit ({duration:.2f} s): {outcomes}"


def _retry(source: Source, operation: Operation) -> Fingerprint:
    simulator = Simulator(source.session(), scale=SCALE)
    {
        "load": lambda: simulator.load_baseline(),
        "day": lambda: simulator.apply_delta("next"),
        "fast_forward": lambda: simulator.apply_delta(6, fast_forward=True),
        "reset": lambda: simulator.reset(),
    }[operation.name]()
    return source.fingerprint()
