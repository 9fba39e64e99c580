"""DDL a day or a reset runs on PostgreSQL waits behind a reader's open transaction only briefly: readers keep
reading, and after a bounded number of tries the operation fails naming the blocking backend, nothing changed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.sessions.postgres import PostgresSession
from airflow_source_simulator.simulator import Simulator
from tests.support.postgres import PostgresServer
from tests.support.sources import postgres_session

OPERATIONS: dict[str, tuple[int, Callable[[Simulator], object], int]] = {
    # name: (day the database is at, the operation, the day it leaves)
    "day 5 adds a column": (4, lambda s: s.apply_delta(5), 5),
    "reset drops it": (5, lambda s: s.reset(), 0),
}


@pytest.mark.parametrize("name", OPERATIONS)
def test_ddl_behind_a_readers_transaction_fails_clearly_and_readers_are_never_held_long(
    name: str, pg_conn_id: str, postgres: PostgresServer, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, operation, leaves = OPERATIONS[name]
    monkeypatch.setattr(PostgresSession, "lock_timeout_seconds", 0.5)
    monkeypatch.setattr(PostgresSession, "lock_attempts", 3)
    monkeypatch.setattr(PostgresSession, "lock_pause_seconds", 0.2)
    Simulator(postgres_session(pg_conn_id), profile="cdc").apply_delta(at, fast_forward=True)
    uri = postgres.uri(pg_database)
    with psycopg.connect(uri) as blocker, psycopg.connect(uri, autocommit=True) as reader:
        blocker.execute("SELECT count(*) FROM jaffle_shop.customers")  # an open transaction: its lock stays
        failures: list[BaseException] = []

        def operate() -> None:
            try:
                operation(Simulator(postgres_session(pg_conn_id), profile="cdc"))
            except SimulatorError as error:
                failures.append(error)

        worker = threading.Thread(target=operate)
        worker.start()
        reader.execute("SET statement_timeout = '5s'")
        waits = []
        while worker.is_alive():
            started = time.monotonic()
            reader.execute("SELECT count(*) FROM jaffle_shop.customers")
            waits.append(time.monotonic() - started)
            time.sleep(0.05)
        worker.join()
        assert len(failures) == 1, "the operation must fail while the reader holds its lock"
        message = str(failures[0])
        assert f"PostgreSQL server process {blocker.info.backend_pid}" in message
        assert "idle in transaction" in message and "Nothing was changed" in message
        assert max(waits) < 2.0, f"a reader waited {max(waits):.1f} s behind the operation's DDL"
        status = Simulator(postgres_session(pg_conn_id), profile="cdc").status()
        assert status["day"] == at
        blocker.commit()
    assert operation(Simulator(postgres_session(pg_conn_id), profile="cdc"))["day"] == leaves  # type: ignore[index]
