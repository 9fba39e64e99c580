"""PostgreSQL: an operation is one transaction, DDL included; generated rows go through COPY."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from logging import Logger
from typing import TYPE_CHECKING, Any

from airflow_source_simulator.core.statements import Rows
from airflow_source_simulator.data.arrow import to_arrow, to_csv
from airflow_source_simulator.dialects.postgres import POSTGRES
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.sessions.base import Session, wait_for

if TYPE_CHECKING:
    from airflow.sdk import Connection


class PostgresSession(Session):
    dialect = POSTGRES
    conn_types = ("postgres",)
    lock_poll_seconds = 0.2
    bulk = True

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> PostgresSession:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return cls(PostgresHook(postgres_conn_id=conn_id, log_sql=False))

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        notes = super().cdc_notes(mode, shop)
        wal_level = self.query("SHOW wal_level")[0][0]
        if wal_level != "logical":
            notes.append(
                f"⚠ wal_level is {wal_level!r}: set wal_level = logical and restart PostgreSQL before a CDC tool "
                "can create its replication slot."
            )
        return notes

    # --- concurrency -------------------------------------------------------------------------------
    @contextmanager
    def exclusive(self, name: str, log: Logger) -> Iterator[None]:
        """A session-level advisory lock on the held connection, from the ledger check to after the commit.

        Session-level, not transaction-level: the ledger is read in transactions of its own before the
        operation's transaction starts, and the lock has to cover both. A connection that dies releases it.
        """
        key = POSTGRES.lock_key(name)
        started = time.monotonic()
        waited: list[bool] = []

        def on_wait() -> None:
            waited.append(True)
            log.info(
                "Waiting for another operation on schema %s to finish (%s); then the ledger is read again.",
                name,
                self._lock_holders(key),
            )

        wait_for(
            lambda: True if self.query(f"SELECT pg_try_advisory_lock({key})")[0][0] else None,
            seconds=self.lock_wait_seconds,
            poll=self.lock_poll_seconds,
            on_wait=on_wait,
            on_timeout=lambda _: SimulatorError(
                f"another operation has been writing the simulated source in schema {name} for over "
                f"{self.lock_wait_seconds:.0f} s ({self._lock_holders(key)}). Nothing was changed. Run this task "
                "again once it has finished, and give DAGs that write this source max_active_runs=1."
            ),
        )
        if waited:
            log.info("The other operation on schema %s finished after %.1f s.", name, time.monotonic() - started)
        try:
            yield
        finally:
            # After a lost connection there is nothing to unlock: the server released it with the session.
            with suppress(Exception):
                self.query(f"SELECT pg_advisory_unlock({key})")

    def _lock_holders(self, key: str) -> str:
        """Who holds the lock, for the log: the PostgreSQL server process (pg_stat_activity.pid) of its session."""
        rows = self.query(POSTGRES.lock_holders_query(key))
        return (
            f"held by PostgreSQL server process {', '.join(str(pid) for (pid,) in rows)}" if rows else "just released"
        )

    # --- bulk: generated rows through COPY, as CSV written by Arrow ---------------------------
    @contextmanager
    def bulk_cursor(self, transaction: bool) -> Iterator[Any]:
        conn = self.hook.get_conn()
        conn.autocommit = not transaction
        with conn.cursor() as cursor:
            yield cursor
        if transaction:
            conn.commit()

    def bulk_rows(self, cursor: Any, rows: Rows, columns: dict[str, Any]) -> None:
        csv = to_csv(to_arrow(rows.table, columns))
        for sql in POSTGRES.copy_rows(rows):
            if "FROM STDIN" in sql:
                with cursor.copy(sql) as copy:
                    copy.write(csv)
            else:
                cursor.execute(sql)
