"""DuckDB (and MotherDuck): the embedded default."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from logging import Logger
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb

from airflow_source_simulator.data.arrow import to_arrow
from airflow_source_simulator.data.canonical import NULL, SEPARATOR
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.platforms.base import Platform
from airflow_source_simulator.schema import Column, Table
from airflow_source_simulator.statements import Rows

if TYPE_CHECKING:
    from airflow.sdk import Connection

# DuckDB's error when another process holds the file: 'Could not set lock on file "…": Conflicting lock is
# held in /usr/bin/python3 (PID 123)'.
_FILE_LOCKED = re.compile(
    r"Could not set lock on file .*Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)", re.S
)
# Connections of one process to one file share a database, where two writers conflict only at commit:
# writing operations take this per-file lock in the process instead.
_PROCESS_LOCKS: dict[str, threading.RLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()

_TYPES: dict[str, str] = {
    "int": "INTEGER",
    "decimal": "DECIMAL(10,2)",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "bool": "BOOLEAN",
}


class DuckDBPlatform(Platform):
    """Rows travel as one text block per statement, split and cast in SQL.

    DuckDB binds every constant of a multi-row VALUES list separately: measured here, 20,000 rows
    take ~3 s as VALUES and ~0.05 s as a split text block.
    """

    name = "duckdb"
    title = "DuckDB"
    conn_types = ("duckdb",)
    types = _TYPES
    max_rows_per_statement = 100_000
    # DbApiHook.run executes on conn.cursor(), which in DuckDB is a connection of its own: the
    # transaction has to be opened and committed on that cursor, not by the hook's conn.commit().
    begin_sql: ClassVar[str | None] = "BEGIN TRANSACTION"
    commit_sql: ClassVar[str | None] = "COMMIT"

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> DuckDBPlatform:
        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

        extra = connection.extra_dejson
        if not (connection.host or connection.password or extra.get("database") or extra.get("motherduck_token")):
            raise SimulatorError(
                f"DuckDB connection {conn_id!r} names no database file (host) and no MotherDuck token: it would open "
                "an in-memory database that vanishes when the task ends. Set its host to a file path, e.g. "
                "/data/source.duckdb, or its password to a MotherDuck token."
            )
        return cls(DuckDBHook(duckdb_conn_id=conn_id, log_sql=False))

    @classmethod
    def for_database(cls, database: str) -> DuckDBPlatform:
        """A platform on a DuckDB file (or ``md:`` database) without an Airflow connection."""
        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

        return cls(DuckDBHook(database=database, log_sql=False))

    # --- concurrency -------------------------------------------------------------------------------
    # DuckDB lets one process at a time open a file for writing; simulator operations take seconds at most,
    # so another task's is waited for. A program that keeps the file open (a SQL client) is not: the wait
    # is short, and the message says what to do.
    lock_wait_seconds = 60.0
    lock_poll_seconds = 0.1

    def database_name(self) -> str:
        """The database, for messages: a file path, or ``md:<database>`` without the MotherDuck token."""
        return str(self.hook.get_database()).split("?", 1)[0]

    def connect(self, log: Logger) -> Any:
        started = time.monotonic()
        pause, waiting = self.lock_poll_seconds, False
        while True:
            try:
                return self.hook.get_conn()
            except duckdb.IOException as error:
                held = _FILE_LOCKED.search(str(error))
                if held is None:
                    raise
                if time.monotonic() - started >= self.lock_wait_seconds:
                    raise SimulatorError(
                        f"the DuckDB file {self.database_name()} is in use by another process (PID {held['pid']}, "
                        f"{held['program']}), most likely another task writing it: DuckDB lets one process at a time "
                        f"open a file for writing. Waited {self.lock_wait_seconds:.0f} s; nothing was changed. Run this "
                        "task again once the other has finished (task retries do that), give DAGs that write this "
                        "file max_active_runs=1, and close programs that keep it open (a SQL client, a notebook)."
                    ) from error
                if not waiting:
                    log.info(
                        "The DuckDB file %s is in use by another process (PID %s); waiting up to %.0f s for it.",
                        self.database_name(),
                        held["pid"],
                        self.lock_wait_seconds,
                    )
                    waiting = True
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    @contextmanager
    def exclusive(self, name: str, log: Logger) -> Iterator[None]:
        database = str(self.hook.get_database())
        key = database if database.startswith("md:") or database == ":memory:" else os.path.realpath(database)
        with _PROCESS_LOCKS_GUARD:
            lock = _PROCESS_LOCKS.setdefault(key, threading.RLock())
        if not lock.acquire(blocking=False):
            log.info("Waiting for another operation on %s in this process to finish.", self.database_name())
            if not lock.acquire(timeout=self.lock_wait_seconds):
                raise SimulatorError(
                    f"another operation in this process has been writing {self.database_name()} for over "
                    f"{self.lock_wait_seconds:.0f} s. Nothing was changed. Run this task again once it has finished."
                )
        try:
            yield
        finally:
            lock.release()

    @classmethod
    def _cast(cls, column: Column, field: str) -> str:
        value = f"NULLIF({field}, '{NULL}')" if column.nullable else field
        return value if column.type == "varchar" else f"CAST({value} AS {cls.column_type(column)})"

    @classmethod
    def _rows_source(cls, table: Table, lines: Sequence[str], alias: str) -> str:
        fields = ",\n       ".join(
            f"{cls._cast(c, f'f[{i}]')} AS {c.name}" for i, c in enumerate(table.columns, start=1)
        )
        block = "\n".join(lines)
        return (
            f"(SELECT {fields}\n"
            f"FROM (SELECT string_split(unnest(string_split('{block}', chr(10))), '{SEPARATOR}') AS f)) AS {alias}"
        )

    @classmethod
    def insert_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        columns = ", ".join(table.column_names)
        return f"INSERT INTO {table_ref} ({columns})\nSELECT * FROM {cls._rows_source(table, lines, 'v')}"

    @classmethod
    def update_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        assignments = ", ".join(f"{c.name} = v.{c.name}" for c in cls.updatable(table))
        return (
            f"UPDATE {table_ref} AS t SET {assignments}\nFROM {cls._rows_source(table, lines, 'v')}\n"
            f"WHERE t.{table.key} = v.{table.key}"
        )

    # --- bulk: generated rows scanned from Arrow in place ------------------------------------
    bulk = True
    _VIEW = "source_simulator_rows"

    @contextmanager
    def bulk_cursor(self, transaction: bool) -> Iterator[Any]:
        cursor = self.hook.get_conn().cursor()
        try:
            if transaction:
                cursor.execute(self.begin_sql)
            yield cursor
            if transaction:
                cursor.execute(self.commit_sql)
        finally:
            cursor.close()

    def bulk_rows(self, cursor: Any, rows: Rows, columns: dict[str, Any]) -> None:
        cursor.register(self._VIEW, to_arrow(rows.table, columns))
        cursor.execute(self._bulk_sql(rows))
        cursor.unregister(self._VIEW)

    def _bulk_sql(self, rows: Rows) -> str:
        key, names = rows.table.key, ", ".join(rows.table.column_names)
        if rows.action in ("update", "touch"):
            assignments = ", ".join(f"{c.name} = v.{c.name}" for c in self.updatable(rows.table))
            return f"UPDATE {rows.ref} AS t SET {assignments} FROM {self._VIEW} AS v WHERE t.{key} = v.{key}"
        return f"INSERT INTO {rows.ref} ({names}) SELECT {names} FROM {self._VIEW}"
