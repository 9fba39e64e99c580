"""Two writers at once on one source: exactly one applies the day, the other waits (then finds it applied,
a logged no-op) or fails with a clear message; the ledger holds the day once.

Each writer has its own connection: threads on PostgreSQL (each its own server session) and on a DuckDB
file in one process (DuckDB shares the database between a process's connections), and a second process
on a DuckDB file (DuckDB lets one process at a time open a file for writing).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.operators import ApplyDeltaOperator, LoadBaselineOperator, ResetOperator
from airflow_source_simulator.schema import LEDGER_TABLE
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.dags import NO_CONTEXT
from tests.support.harness import duckdb_snapshot, holds_state, ledger_rows, postgres_snapshot
from tests.support.postgres import PostgresServer
from tests.support.sources import REPO, postgres_session

TIMEOUT = 30


def wait_for(what: str, condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Writer(threading.Thread):
    """Runs one operation in a thread of its own, keeping its result or its exception."""

    def __init__(self, operation: Callable[[], dict[str, Any]]) -> None:
        super().__init__(daemon=True)
        self.operation = operation
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.operation()
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error

    def outcome(self) -> dict[str, Any]:
        self.join(TIMEOUT)
        assert not self.is_alive(), "the writer never finished"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class LogWatch(logging.Handler):
    """A logger for one writer, remembering its messages, so the test can see that it waits."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.logger = logging.getLogger(f"tests.reliability.{name}")
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def said(self, text: str) -> bool:
        return any(text in message for message in self.messages)


def _expect_day_applied_once(snapshot: dict[str, list[tuple[Any, ...]]], day: int) -> None:
    assert holds_state(snapshot, day)
    assert [(row[0], row[1], row[2]) for row in ledger_rows(snapshot)] == [(1, "load_baseline", 0)] + [
        (1 + d, "apply_delta", d) for d in range(1, day + 1)
    ]


# --- PostgreSQL: an advisory lock per source -----------------------------------------------------------
@pytest.fixture
def stalled_postgres(postgres: PostgresServer, pg_database: str, pg_conn_id: str) -> Any:
    """A loaded source, and a session holding SHARE on jaffle_crm.web_sessions: a writer's transaction runs
    until its insert there (day 1's last table), then waits, in the middle of its transaction."""
    Simulator(postgres_session(pg_conn_id)).load_baseline()
    blocker = psycopg.connect(postgres.uri(pg_database))
    blocker.execute("LOCK TABLE jaffle_crm.web_sessions IN SHARE MODE")
    yield blocker
    blocker.close()


def _waiting_on_web_sessions(postgres: PostgresServer, database: str) -> list[int]:
    with psycopg.connect(postgres.uri(database), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_locks WHERE NOT granted AND relation = 'jaffle_crm.web_sessions'::regclass"
        ).fetchall()
    return [pid for (pid,) in rows]


def test_two_runs_applying_a_day_on_postgres_apply_it_once_the_second_waits(
    postgres: PostgresServer, pg_database: str, pg_conn_id: str, stalled_postgres: Any
) -> None:
    def apply(task_id: str) -> Callable[[], dict[str, Any]]:
        return lambda: ApplyDeltaOperator(task_id=task_id, day=1, conn_id=pg_conn_id).execute(NO_CONTEXT)

    first = Writer(apply("first_run"))
    first.start()
    wait_for(
        "the first run's transaction to reach web_sessions",
        lambda: bool(_waiting_on_web_sessions(postgres, pg_database)),
    )
    second = Writer(apply("second_run"))
    second.start()
    # The second run is held at the lock, before it reads the ledger: still running while the first is stalled.
    time.sleep(1.0)
    assert second.is_alive() and first.is_alive()
    stalled_postgres.commit()  # the first run goes on and commits
    assert first.outcome()["changed"] is True
    assert second.outcome()["changed"] is False  # it read the ledger after the first's commit: a no-op
    _expect_day_applied_once(postgres_snapshot(postgres.uri(pg_database)), 1)


def test_on_postgres_a_writer_that_waited_too_long_fails_clearly_and_changes_nothing(
    postgres: PostgresServer, pg_database: str, pg_conn_id: str, stalled_postgres: Any
) -> None:
    first = Writer(lambda: Simulator(postgres_session(pg_conn_id)).apply_delta(1))
    first.start()
    wait_for(
        "the first writer's transaction to reach web_sessions",
        lambda: bool(_waiting_on_web_sessions(postgres, pg_database)),
    )
    (holder,) = _waiting_on_web_sessions(postgres, pg_database)
    impatient = postgres_session(pg_conn_id)
    impatient.lock_wait_seconds = 1.0  # type: ignore[misc]
    log = LogWatch("impatient_postgres")
    # In a thread of its own: were it not held at the lock, its reset would block on the table lock.
    reset = Writer(lambda: Simulator(impatient, log=log.logger).reset())
    reset.start()
    reset.join(15)
    assert not reset.is_alive(), "the second writer was not held at the lock"
    assert isinstance(reset.error, SimulatorError), reset.error
    message = str(reset.error)
    assert "another operation has been writing the simulated source in schema jaffle_shop for over 1 s" in message
    assert f"held by PostgreSQL server process {holder}" in message and "Nothing was changed" in message
    assert log.said("Waiting for another operation on schema jaffle_shop")
    stalled_postgres.commit()
    assert first.outcome()["changed"] is True
    _expect_day_applied_once(postgres_snapshot(postgres.uri(pg_database)), 1)


def test_on_postgres_sources_in_other_schemas_do_not_wait_for_each_other(
    pg_conn_id: str, stalled_postgres: Any
) -> None:
    """The lock is the source's (its shop schema), not the database's."""
    first = Writer(lambda: Simulator(postgres_session(pg_conn_id)).apply_delta(1))
    first.start()
    other = postgres_session(pg_conn_id)
    other.lock_wait_seconds = 5.0  # type: ignore[misc]
    started = time.monotonic()
    result = Simulator(other, shop_schema="erp", crm_schema="marketing").load_baseline()
    assert result["changed"] is True and time.monotonic() - started < 5
    stalled_postgres.commit()
    assert first.outcome()["changed"] is True


# --- DuckDB: one writer per file in a process, one process per file -------------------------------------
class PausingDuckDBHook(DuckDBHook):
    """A real DuckDB hook that stops before the ledger row (inside the transaction) until ``go`` is set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.paused, self.go = threading.Event(), threading.Event()

    def _run_command(self, cur: Any, sql_statement: str, parameters: Any) -> None:
        if f"{LEDGER_TABLE} (" in sql_statement and sql_statement.lstrip().startswith("INSERT"):
            self.paused.set()
            assert self.go.wait(TIMEOUT)
        super()._run_command(cur, sql_statement, parameters)


def test_two_writers_of_a_duckdb_file_in_one_process_apply_a_day_once(tmp_path: Path) -> None:
    path = tmp_path / "source.duckdb"
    Simulator(DuckDBSession.for_database(str(path))).load_baseline()
    hook = PausingDuckDBHook(database=str(path), log_sql=False)
    first = Writer(lambda: Simulator(DuckDBSession(hook)).apply_delta(1))
    first.start()
    assert hook.paused.wait(TIMEOUT)
    log = LogWatch("second_duckdb_thread")
    second = Writer(lambda: Simulator(DuckDBSession.for_database(str(path)), log=log.logger).apply_delta(1))
    try:
        second.start()
        wait_for("the second writer to wait", lambda: log.said("Waiting for another operation on"), timeout=10)
        assert second.is_alive()
    finally:
        hook.go.set()
    assert first.outcome()["changed"] is True
    assert second.outcome()["changed"] is False
    assert log.said("Day 1 is already applied")
    _expect_day_applied_once(duckdb_snapshot(path), 1)


def test_a_duckdb_file_another_process_writes_is_waited_for_or_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "source.duckdb"
    Simulator(DuckDBSession.for_database(str(path))).load_baseline()
    other = subprocess.Popen(
        [sys.executable, "-m", "tests.support.duckdb_writer", str(path), "1"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert other.stdin is not None and other.stdout is not None
    output: list[str] = []
    stdout = other.stdout

    def read() -> None:
        for line in stdout:
            output.append(line.strip())

    threading.Thread(target=read, daemon=True).start()
    try:
        wait_for("the other process to hold the file mid-transaction", lambda: "PAUSED" in output)
        # A writer that does not wait long enough is refused, naming the file and the process holding it.
        impatient = DuckDBSession.for_database(str(path))
        impatient.lock_wait_seconds = 0.5  # type: ignore[misc]
        with pytest.raises(SimulatorError) as refused:
            Simulator(impatient).apply_delta(1)
        message = str(refused.value)
        assert f"the DuckDB file {path} is in use by another process (PID {other.pid}," in message
        assert "most likely another task writing it" in message and "nothing was changed" in message
        # A writer that waits gets the file once the other process is done, and finds the day applied.
        log = LogWatch("patient_duckdb_process")
        patient = Writer(lambda: Simulator(DuckDBSession.for_database(str(path)), log=log.logger).apply_delta(1))
        patient.start()
        wait_for("the second writer to wait", lambda: log.said(f"is in use by another process (PID {other.pid})"))
        assert patient.is_alive()
        other.stdin.write("go\n")
        other.stdin.flush()
        assert other.wait(TIMEOUT) == 0
    finally:
        if other.poll() is None:
            other.kill()
    wait_for("the other process's result", lambda: any(line.startswith("RESULT ") for line in output), timeout=5)
    result = json.loads(next(line for line in output if line.startswith("RESULT "))[len("RESULT ") :])
    assert result == {"changed": True, "day": 1}
    assert patient.outcome()["changed"] is False
    _expect_day_applied_once(duckdb_snapshot(path), 1)


def test_every_example_dag_that_writes_a_source_runs_one_dag_run_at_a_time() -> None:
    """Two runs of one DAG would be two writers of one source: the lock makes that safe, max_active_runs=1
    makes it not happen (a second run would otherwise wait, or fail on a DuckDB file held too long)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "example_dags"))
    assert bag.import_errors == {}
    writers = (LoadBaselineOperator, ApplyDeltaOperator, ResetOperator)
    writing = {dag_id: dag for dag_id, dag in bag.dags.items() if any(isinstance(t, writers) for t in dag.tasks)}
    assert {"source_simulator_classic_days", "source_simulator_daily", "source_simulator_postgres"} <= set(writing)
    assert {dag_id: dag.max_active_runs for dag_id, dag in writing.items()} == dict.fromkeys(writing, 1)
