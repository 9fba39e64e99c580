"""PostgreSQL: an operation is one transaction, DDL included; generated rows go through binary COPY."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from logging import Logger, getLogger
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.csv as pa_csv

from airflow_source_simulator.core.statements import Rows
from airflow_source_simulator.data.arrow import to_arrow, to_csv
from airflow_source_simulator.dialects.postgres import POSTGRES, CopyFormat
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.sessions.base import Session, wait_for
from airflow_source_simulator.sessions.pgbinary import BINARY_TYPES, encode_parts

if TYPE_CHECKING:
    from airflow.sdk import Connection


_LOG = getLogger(__name__)
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock not granted within lock_timeout


def _lock_timed_out(error: BaseException | None) -> bool:
    while error is not None:
        if getattr(error, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return True
        error = error.__cause__ or error.__context__
    return False


class PostgresSession(Session):
    dialect = POSTGRES
    conn_types = ("postgres",)
    lock_poll_seconds = 0.2
    bulk = True
    # A statement that needs a lock another session holds (ALTER TABLE behind a reader's open transaction)
    # waits at most this long, so that it never queues the readers behind it for longer; the operation is
    # then rolled back and tried again, a bounded number of times.
    lock_timeout_seconds: ClassVar[float] = 2.0
    lock_attempts: ClassVar[int] = 5
    lock_pause_seconds: ClassVar[float] = 1.0

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> PostgresSession:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return cls(PostgresHook(postgres_conn_id=conn_id, log_sql=False))

    def connect(self, log: Logger, *, read_only: bool = False) -> Any:
        self._log = log
        conn = self.hook.get_conn()
        autocommit = conn.autocommit
        conn.autocommit = True  # a session setting, outside any transaction
        conn.execute(f"SET lock_timeout = '{round(self.lock_timeout_seconds * 1000)}ms'")
        conn.autocommit = autocommit
        conn.read_only = read_only
        return conn

    def cancel(self, conn: Any) -> None:
        conn.cancel_safe()

    def retrying(self, attempt: Callable[[], None], schemas: Sequence[str]) -> None:
        """The work, tried again when a lock was not granted within ``lock_timeout_seconds``: the transaction
        was rolled back, so nothing was changed, and other sessions' readers never wait on this one long."""
        for number in range(1, self.lock_attempts + 1):
            try:
                attempt()
                return
            except Exception as error:
                if not _lock_timed_out(error):
                    raise
                with suppress(Exception):
                    self.hook.get_conn().rollback()
                holders = self._table_lock_holders(schemas)
                if number == self.lock_attempts:
                    raise SimulatorError(
                        f"could not lock the simulator's tables: {holders or 'another session'} "
                        f"(tried {number} times, waiting {self.lock_timeout_seconds:g} s each). Nothing was changed. "
                        "Ask it to commit or roll back (or end its session: SELECT pg_terminate_backend(<pid>)), then "
                        "run this task again."
                    ) from error
                getattr(self, "_log", _LOG).info(
                    "Waiting for a lock %s; nothing was changed, trying again (%s of %s).",
                    f"held by {holders}" if holders else "another session held",
                    number + 1,
                    self.lock_attempts,
                )
                time.sleep(self.lock_pause_seconds * number)

    def _table_lock_holders(self, schemas: Sequence[str]) -> str:
        """The other sessions holding locks on tables in ``schemas``, for a message a user can act on."""
        if not schemas:
            return ""
        rows = self.query(POSTGRES.table_lock_holders_query(schemas))
        return "; ".join(
            f"PostgreSQL server process {pid} (user {user}, application {app or '-'}, {state}, on {tables}; "
            f"last query: {query!r})"
            for pid, user, app, state, tables, query in rows
        )

    def read_arrow(self, sql: str) -> pa.Table:
        """The rows through ``COPY … TO STDOUT`` as CSV, parsed by Arrow in C++: every column as text (the
        comparison casts it), NULL as an unquoted empty field and the empty string as a quoted one."""
        buffer = io.BytesIO()
        conn = self.hook.get_conn()
        # In a transaction block of its own (a savepoint inside an open one): the connection is left as found.
        with (
            conn.transaction(),
            conn.cursor() as cursor,
            cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)") as copy,
        ):
            for block in copy:
                buffer.write(block)
        data = buffer.getvalue()
        names = next(csv.reader([data.split(b"\n", 1)[0].decode()])) if data else []
        if not data:
            return pa.table({})
        return pa_csv.read_csv(
            io.BytesIO(data),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                null_values=[""],
            ),
        )

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

    # --- bulk: generated rows through binary COPY, encoded from Arrow ---------------------------
    @contextmanager
    def bulk_cursor(self, transaction: bool) -> Iterator[Any]:
        conn = self.hook.get_conn()
        conn.autocommit = not transaction
        self._transaction = transaction
        self._forms: dict[str, CopyFormat] = {}
        with conn.cursor() as cursor:
            yield cursor
        if transaction:
            conn.commit()

    def bulk_rows(self, cursor: Any, rows: Rows, columns: dict[str, Any]) -> None:
        form = self._form(cursor, rows)
        table = to_arrow(rows.table, columns)
        parts = encode_parts(table, rows.table.columns) if form == "binary" else iter([to_csv(table)])
        for sql in POSTGRES.copy_rows(rows, form):
            if "FROM STDIN" in sql:
                with cursor.copy(sql) as copy:
                    for part in parts:
                        copy.write(part)
            else:
                cursor.execute(sql)

    def _form(self, cursor: Any, rows: Rows) -> CopyFormat:
        """Binary where every column of the table has the type the simulator gives it (the binary form is
        the type's own), else CSV, which the server casts: a table its owner changed still loads."""
        if rows.ref not in self._forms:
            types = dict(cursor.execute(POSTGRES.column_types_query(rows.ref)).fetchall())
            same = all(types.get(c.name) in BINARY_TYPES[c.type] for c in rows.table.columns)
            self._forms[rows.ref] = "binary" if same else "csv"
        return self._forms[rows.ref]

    @contextmanager
    def key_after(self, cursor: Any, rows: Rows) -> Iterator[None]:
        """The table's primary key dropped before a large load and added back after it, in the operation's
        transaction: PostgreSQL builds the index over the loaded rows about twice as fast as it maintains it
        row by row. A failure rolls back the whole transaction, the key with it; outside a transaction the
        key is kept. Readers of the table wait for the commit (the key's change locks the table), as they
        would for a fast-forward's new state anyway."""
        key = cursor.execute(POSTGRES.primary_key_query(rows.ref)).fetchone() if self._transaction else None
        if key is None:
            yield
            return
        name, definition = key
        cursor.execute(POSTGRES.drop_constraint(rows.ref, name))
        yield
        cursor.execute(POSTGRES.add_constraint(rows.ref, name, definition))
