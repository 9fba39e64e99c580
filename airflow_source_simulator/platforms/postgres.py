"""PostgreSQL: the most common CDC source. Transactional DDL; change capture through a publication."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from logging import Logger
from typing import TYPE_CHECKING, Any

from airflow_source_simulator.data.arrow import to_arrow, to_csv
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.platforms.base import Platform
from airflow_source_simulator.schema import Table
from airflow_source_simulator.statements import Rows, Statement, Step

if TYPE_CHECKING:
    from airflow.sdk import Connection

_TYPES: dict[str, str] = {
    "int": "INTEGER",
    "decimal": "NUMERIC(10,2)",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "bool": "BOOLEAN",
}
PUBLICATION_PREFIX = "source_simulator_"
LOCK_PREFIX = "airflow_source_simulator:"


def publication_name(shop_schema: str) -> str:
    """One publication per simulated source, named after its shop schema (at most 63 bytes, like every name)."""
    return (PUBLICATION_PREFIX + shop_schema)[:63]


class PostgresPlatform(Platform):
    """Rows travel as typed multi-row ``VALUES``; PostgreSQL parses them quickly and DDL is transactional."""

    name = "postgres"
    title = "PostgreSQL"
    conn_types = ("postgres",)
    types = _TYPES
    max_rows_per_statement = 5_000
    cdc_modes = ("publication",)

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> PostgresPlatform:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return cls(PostgresHook(postgres_conn_id=conn_id, log_sql=False))

    @classmethod
    def insert_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        # Directly under INSERT, each literal takes its target column's type, NULLs included.
        return f"INSERT INTO {table_ref} ({', '.join(table.column_names)}) VALUES\n{cls.values_rows(table, lines)}"

    @classmethod
    def update_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        # A VALUES list outside INSERT types an all-NULL column as text: cast every assignment.
        assignments = ", ".join(f"{c.name} = CAST(v.{c.name} AS {cls.column_type(c)})" for c in cls.updatable(table))
        return (
            f"UPDATE {table_ref} AS t SET {assignments}\nFROM (VALUES\n{cls.values_rows(table, lines)}\n) "
            f"AS v ({', '.join(table.column_names)})\nWHERE t.{table.key} = v.{table.key}"
        )

    def cdc_statements(self, mode: str, shop: str, crm: str, tables: Sequence[Table]) -> list[Statement]:
        name = publication_name(shop)
        refs = ", ".join(f"{self.quote(shop if t.role == 'shop' else crm)}.{t.name}" for t in tables)
        # CREATE PUBLICATION has no IF NOT EXISTS; the ledger is left out: it is not source data.
        sql = (
            "DO $$ BEGIN\n"
            f"  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = '{name}') THEN\n"
            f"    CREATE PUBLICATION {self.quote(name)} FOR TABLE {refs};\n"
            "  END IF;\n"
            "END $$"
        )
        return [Statement(sql, Step("cdc", f"publication {name}"))]

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        name = publication_name(shop)
        notes = [f"Logical-replication tools subscribe to publication {name!r} (plugin pgoutput)."]
        wal_level = self.query("SHOW wal_level")[0][0]
        if wal_level != "logical":
            notes.append(
                f"⚠ wal_level is {wal_level!r}: set wal_level = logical and restart PostgreSQL before a CDC tool "
                "can create its replication slot."
            )
        return notes

    # --- concurrency -------------------------------------------------------------------------------
    lock_poll_seconds = 0.2

    @staticmethod
    def lock_key(name: str) -> str:
        """The advisory lock (a bigint) of the source whose ledger is in schema ``name`` (a plain identifier)."""
        return f"hashtextextended('{LOCK_PREFIX}{name}', 0)"

    @contextmanager
    def exclusive(self, name: str, log: Logger) -> Iterator[None]:
        """A session-level advisory lock on the held connection, from the ledger check to after the commit.

        Session-level, not transaction-level: the ledger is read in transactions of its own before the
        operation's transaction starts, and the lock has to cover both. A connection that dies releases it.
        """
        key = self.lock_key(name)
        started = time.monotonic()
        waiting = False
        while not self.query(f"SELECT pg_try_advisory_lock({key})")[0][0]:
            waited = time.monotonic() - started
            if waited > self.lock_wait_seconds:
                raise SimulatorError(
                    f"another operation has been writing the simulated source in schema {name} for over "
                    f"{self.lock_wait_seconds:.0f} s ({self._lock_holders(key)}). Nothing was changed. Run this task "
                    "again once it has finished, and give DAGs that write this source max_active_runs=1."
                )
            if not waiting:
                log.info(
                    "Waiting for another operation on schema %s to finish (%s); then the ledger is read again.",
                    name,
                    self._lock_holders(key),
                )
                waiting = True
            time.sleep(self.lock_poll_seconds)
        if waiting:
            log.info("The other operation on schema %s finished after %.1f s.", name, time.monotonic() - started)
        try:
            yield
        finally:
            # After a lost connection there is nothing to unlock: the server released it with the session.
            with suppress(Exception):
                self.query(f"SELECT pg_advisory_unlock({key})")

    def _lock_holders(self, key: str) -> str:
        """Who holds the lock, for the log: the PostgreSQL server process (pg_stat_activity.pid) of its session."""
        rows = self.query(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            f"AND ((classid::bigint << 32) | objid::bigint) = {key}"
        )
        return (
            f"held by PostgreSQL server process {', '.join(str(pid) for (pid,) in rows)}" if rows else "just released"
        )

    # --- bulk: generated rows through COPY, as CSV written by Arrow ---------------------------
    bulk = True

    @contextmanager
    def bulk_cursor(self, transaction: bool) -> Iterator[Any]:
        conn = self.hook.get_conn()
        conn.autocommit = not transaction
        with conn.cursor() as cursor:
            yield cursor
        if transaction:
            conn.commit()

    def bulk_rows(self, cursor: Any, rows: Rows, columns: dict[str, Any]) -> None:
        self._copy(cursor, rows, to_csv(to_arrow(rows.table, columns)))

    def _copy(self, cursor: Any, rows: Rows, csv: bytes) -> None:
        names = ", ".join(rows.table.column_names)
        if rows.action not in ("update", "touch"):
            with cursor.copy(f"COPY {rows.ref} ({names}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(csv)
            return
        # COPY cannot update: stage the rows in a temporary table, then update from it.
        staging, key = "source_simulator_rows", rows.table.key
        cursor.execute(f"CREATE TEMPORARY TABLE {staging} (LIKE {rows.ref})")
        with cursor.copy(f"COPY {staging} ({names}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(csv)
        assignments = ", ".join(f"{c.name} = v.{c.name}" for c in self.updatable(rows.table))
        cursor.execute(f"UPDATE {rows.ref} AS t SET {assignments} FROM {staging} AS v WHERE t.{key} = v.{key}")
        cursor.execute(f"DROP TABLE {staging}")
