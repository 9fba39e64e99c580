"""Faults at every call an operation sends to the server, struck by killing the real connection.

Transactional engines (DuckDB, PostgreSQL): after a kill the database holds either the state before the
operation or the whole state after it, never a mix, and the boundary is exactly the commit.

Without transactions (how Databricks runs, simulated on DuckDB and PostgreSQL): a kill leaves a partial
state, the ledger never claims more than the data holds, and running the operation again converges to
the manifest's digests with one ledger row for it.

tests/integration/test_operations.py and tests/integration/test_postgres.py raise an exception at every statement of the packaged
SQL (load and day 1 on DuckDB; load, day 1 and reset on PostgreSQL); these kill the connection instead,
at every call (reads, COPY and commits included), on the bulk path of generated states too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.simulator import Simulator
from tests.support.harness import DuckDBSource, Fault, Fingerprint, Source, fingerprint_through, holds_state

DRIVER_ERRORS = (duckdb.Error, psycopg.Error)
# The call whose success makes an operation durable: COMMIT on DuckDB's cursor, commit() on PostgreSQL's
# connection.
COMMITS = ("execute COMMIT", "commit")


@dataclass(frozen=True)
class Operation:
    name: str
    scale: int
    prepare: Callable[[Simulator], object]  # from an empty source to the state before the operation
    run: Callable[[Simulator], dict[str, Any]]
    day: int  # the ledger's day after it
    ledger_operation: str

    def __str__(self) -> str:
        return self.name


def _nothing(simulator: Simulator) -> None:
    pass


def _at_day(day: int) -> Callable[[Simulator], None]:
    def prepare(simulator: Simulator) -> None:
        simulator.load_baseline()
        for number in range(1, day + 1):
            simulator.apply_delta(number)

    return prepare


def _keys_after_every_load(simulator: Simulator) -> dict[str, Any]:
    """A load whose every table builds its primary key after its rows (PostgreSQL does so for large loads)."""
    simulator.session.key_after_rows = 1
    return simulator.load_baseline()


# Load and apply of the packaged SQL are struck (raised) at every statement in tests/integration/test_operations.py and
# tests/integration/test_postgres.py; here they go through the bulk path, and reset through the packaged SQL.
TRANSACTIONAL = [
    Operation("reset from day 2", 1, _at_day(2), lambda s: s.reset(), 0, "reset"),
    # Generated states travel through each engine's bulk path (Arrow on DuckDB, COPY on PostgreSQL).
    Operation("load at scale 2 (bulk)", 2, _nothing, lambda s: s.load_baseline(), 0, "load_baseline"),
    Operation("apply day 1 at scale 2 (bulk)", 2, _at_day(0), lambda s: s.apply_delta(1), 1, "apply_delta"),
    Operation("load at scale 2 (bulk, keys built after)", 2, _nothing, _keys_after_every_load, 0, "load_baseline"),
]

WITHOUT_TRANSACTIONS = [
    Operation("load", 1, _nothing, lambda s: s.load_baseline(), 0, "load_baseline"),
    Operation("apply day 1", 1, _at_day(0), lambda s: s.apply_delta(1), 1, "apply_delta"),
    Operation("reset from day 2", 1, _at_day(2), lambda s: s.reset(), 0, "reset"),
    # A generated day: rows as statements of at most 1,000 rows, as Databricks sends them.
    Operation("apply day 4 (generated)", 1, _at_day(3), lambda s: s.apply_delta(4), 4, "apply_delta"),
]
# Every operation on DuckDB; on PostgreSQL (slower to strike and to put back) the daily one, a day.
WITHOUT_TRANSACTIONS_CASES = [
    *(pytest.param("duckdb", operation, id=f"duckdb-{operation}") for operation in WITHOUT_TRANSACTIONS),
    pytest.param("postgres", WITHOUT_TRANSACTIONS[1], id=f"postgres-{WITHOUT_TRANSACTIONS[1]}"),
]


def _dry_run(source: Source, operation: Operation, transactional: bool) -> tuple[list[str], Fingerprint]:
    """Every call the operation sends, and the state it reaches (checked against the manifest here, once),
    from the saved state before it; the source is put back afterwards."""
    counted = Fault()
    operation.run(Simulator(source.session(counted, transactional), scale=operation.scale))
    assert holds_state(source.snapshot(), operation.day, operation.scale), (
        f"{operation}: a clean run missed the manifest"
    )
    after = source.fingerprint()
    keyed = {f"{schema}.{table}" for schema, table, _ in after.keys}
    assert set(after.tables) <= keyed, f"{operation}: tables without their primary key: {set(after.tables) - keyed}"
    source.restore()
    return counted.calls, after


def _run_struck(source: Source, operation: Operation, position: int, transactional: bool) -> bool:
    """Run the operation with its connection killed before call ``position``; whether it failed."""
    fault = Fault(at=position)
    try:
        operation.run(Simulator(source.session(fault, transactional), scale=operation.scale))
    except DRIVER_ERRORS:
        return True
    finally:
        assert fault.struck
    # Only releasing PostgreSQL's advisory lock (its SELECT and that read's commit) may meet a dead connection
    # silently: the server released the lock with the session. Any other call must fail the operation.
    struck = fault.calls[max(position - 2, 0) : position]
    assert any("pg_advisory_unlock" in call for call in struck), f"{operation}: killed at {struck}, yet it succeeded"
    return False


@pytest.mark.parametrize("operation", TRANSACTIONAL, ids=str)
def test_a_connection_killed_at_any_call_leaves_the_old_state_or_the_whole_new_one(
    source: Source, operation: Operation
) -> None:
    operation.prepare(Simulator(source.session(), scale=operation.scale))
    source.save()
    before = source.fingerprint()
    calls, after = _dry_run(source, operation, transactional=True)
    outcomes: list[str] = []
    for position, call in enumerate(calls, start=1):
        failed = _run_struck(source, operation, position, transactional=True)
        now = source.fingerprint()
        where = f"{operation}: killed before call {position} ({call})"
        if now == before:
            assert failed, f"{where}: nothing changed, yet the operation reported success"
            outcomes.append("old")
            continue
        assert now == after, f"{where}: a mix of the old and the new state"
        outcomes.append("new")
        source.restore()
    durable = outcomes.index("new")
    assert outcomes == ["old"] * durable + ["new"] * (len(calls) - durable), outcomes
    assert calls[durable - 1] in COMMITS, f"{operation}: the state changed at {calls[durable]}, not at the commit"
    # Each kill left the old state (put back after the new one); running again completes the operation.
    assert source.fingerprint() == before
    operation.run(Simulator(source.session(), scale=operation.scale))
    assert source.fingerprint() == after


@pytest.mark.parametrize(("source", "operation"), WITHOUT_TRANSACTIONS_CASES, indirect=["source"])
def test_without_transactions_a_retry_after_a_kill_at_any_call_converges_to_the_manifest(
    source: Source, operation: Operation, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    operation.prepare(Simulator(source.session(transactional=False), scale=operation.scale))
    source.save()
    before = source.fingerprint()
    calls, after = _dry_run(source, operation, transactional=False)
    partial_states = 0
    for position, call in enumerate(calls, start=1):
        where = f"{operation}: killed before call {position} ({call})"
        _run_struck(source, operation, position, transactional=False)
        session = source.session(transactional=False)
        with session.hold():  # one connection for the checks and the retry
            partial = fingerprint_through(session)
            complete = partial.ledger != before.ledger
            if complete:
                # The ledger is written last: once it names the new state, the data is complete.
                assert partial == after, f"{where}: the ledger ran ahead of the data"
            elif partial == before:
                # Nothing changed: a retry starts where the dry run started, and reaches ``after``.
                continue
            else:
                partial_states += 1
            retried = operation.run(Simulator(session, scale=operation.scale))
            now = fingerprint_through(session)
        assert now.tables == after.tables, f"{where}: the retry did not reach the manifest's state"
        # One ledger row for the operation: the retry's, or none more when the kill came after the ledger
        # row (the operation was complete), unless it is a reset (each reset is an operation of its own).
        assert retried["changed"] is not (complete and operation.ledger_operation != "reset"), where
        assert now.ledger[: len(partial.ledger)] == partial.ledger, f"{where}: the retry rewrote the ledger"
        assert len(now.ledger) == len(partial.ledger) + retried["changed"], f"{where}: a duplicated ledger row"
        assert now.ledger[-1][1:] == after.ledger[-1][1:], f"{where}: the ledger's last row is not the operation's"
        source.restore()
    # The simulation means something only if kills did leave half-done operations behind.
    assert partial_states >= len(calls) // 4, (partial_states, len(calls))
    assert "stopped part-way" in caplog.text and "Run the same operation again" in caplog.text


def test_without_transactions_a_row_of_your_own_in_the_days_ids_is_still_refused(tmp_path: Path) -> None:
    """A retry accepts the rows an interrupted run of the day inserted (they equal the day's), not others."""
    source = DuckDBSource(tmp_path)
    Simulator(source.session(transactional=False)).load_baseline()
    source.save()
    calls, _ = _dry_run(source, WITHOUT_TRANSACTIONS[1], transactional=False)
    # Killed after the day's customers went in, and a row of someone else's on an order ID the day inserts.
    _run_struck(source, WITHOUT_TRANSACTIONS[1], next(i for i, c in enumerate(calls, 1) if "UPDATE" in c), False)
    with duckdb.connect(str(source.path)) as con:
        assert con.execute("SELECT COUNT(*) FROM jaffle_shop.customers").fetchone() == (125,)
        con.execute(
            "INSERT INTO jaffle_shop.orders VALUES (560, 1, DATE '2024-04-01', 'pending', "
            "TIMESTAMP '2024-04-01 00:00:00', TIMESTAMP '2024-04-01 00:00:00', NULL)"
        )
    before = source.fingerprint()
    with pytest.raises(SimulatorError, match=r"jaffle_shop.orders IDs 501-560: 1 taken\). Nothing was changed"):
        Simulator(source.session(transactional=False)).apply_delta(1)
    assert source.fingerprint() == before
