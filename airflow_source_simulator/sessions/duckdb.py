"""DuckDB (and MotherDuck): the embedded default. Generated rows are scanned from Arrow in place."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from logging import Logger
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from airflow_source_simulator.core.statements import Rows
from airflow_source_simulator.data.arrow import to_arrow
from airflow_source_simulator.dialects.duckdb import DUCKDB
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.sessions.base import Session, wait_for

if TYPE_CHECKING:
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook
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
# DuckDB 2 writes new files in storage version v2.0.0, which DuckDB 1.x cannot open, nor the tools pinned to it
# (datacontract-cli). A source is read by other people's tools, so a new file is created readable by DuckDB 1.1
# and later, unless the connection's extra names another version in its DuckDB settings. A file keeps the
# format it was created in, whoever writes it later; so only the creation names the version, and every later
# connection opens the file with the hook's own configuration (connections of one process to one file must
# share it: DuckDB refuses a second configuration).
STORAGE_SETTING = "storage_compatibility_version"
STORAGE_VERSION = "v1.1.0"


def in_memory(database: str) -> bool:
    """Whether DuckDB opens ``database`` in memory: empty, ``:memory:`` or a named ``:memory:<name>``."""
    return not database.strip() or database.startswith(":memory:")


class DuckDBSession(Session):
    dialect = DUCKDB
    conn_types = ("duckdb",)
    # DuckDB lets one process at a time open a file for writing; simulator operations take seconds at most,
    # so another task's is waited for. A program that keeps the file open (a SQL client) is not: the wait
    # is short, and the message says what to do.
    lock_wait_seconds = 60.0
    lock_poll_seconds = 0.1
    bulk = True
    storage_version = STORAGE_VERSION  # of a file this session creates; the connection's settings may name another
    _VIEW = "source_simulator_rows"

    def __init__(self, hook: DuckDBHook, reader: DuckDBHook | None = None) -> None:
        super().__init__(hook)
        self.reader = reader  # the same database opened read-only, for operations that only read

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> DuckDBSession:
        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

        session = cls(
            DuckDBHook(duckdb_conn_id=conn_id, log_sql=False),
            DuckDBHook(duckdb_conn_id=conn_id, log_sql=False, read_only=True),
        )
        session.storage_version = (connection.extra_dejson.get("settings") or {}).get(STORAGE_SETTING, STORAGE_VERSION)
        database = str(session.hook.get_database())
        if in_memory(database):
            raise SimulatorError(
                f"DuckDB connection {conn_id!r} names no database file: it opens {database!r}, an in-memory database "
                "that vanishes when the task ends. Set its host to a file path, e.g. /data/source.duckdb, or its "
                "password to a MotherDuck token (the database is the connection's schema)."
            )
        return session

    @classmethod
    def for_database(cls, database: str) -> DuckDBSession:
        """A session on a DuckDB file (or ``md:`` database) without an Airflow connection."""
        from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

        if in_memory(database):
            raise SimulatorError(
                f"database={database!r} is an in-memory database that vanishes when the process ends: give a file path."
            )
        return cls(
            DuckDBHook(database=database, log_sql=False), DuckDBHook(database=database, log_sql=False, read_only=True)
        )

    def lineage_namespace(self) -> tuple[str, str | None]:
        """DuckDB is not in OpenLineage's naming spec: the namespace ``duckdb``, and the database's catalog name,
        a file's stem or the MotherDuck database."""
        database = self.database_name()
        return "duckdb", (database[3:] or None) if database.startswith("md:") else PurePath(database).stem

    def database_name(self) -> str:
        """The database, for messages: a file path, or ``md:<database>`` without the MotherDuck token."""
        return str(self.hook.get_database()).split("?", 1)[0]

    # --- concurrency -------------------------------------------------------------------------------
    def connect(self, log: Logger, *, read_only: bool = False) -> Any:
        holder: dict[str, str] = {}
        # Reading opens the file read-only (a read-only file system, other readers), but MotherDuck and a file
        # this process already has open for writing (DuckDB shares one instance per file) are opened as they are.
        database = self.database_name()
        hook = self.hook
        if read_only and self.reader is not None and not database.startswith("md:") and os.path.exists(database):
            hook = self.reader
        if not read_only:
            self._create(database)

        def attempt() -> Any:
            try:
                return hook.get_conn()
            except duckdb.ConnectionException as error:
                if hook is self.hook or "different configuration" not in str(error):
                    raise
                return self.hook.get_conn()
            except duckdb.IOException as error:
                held = _FILE_LOCKED.search(str(error))
                if held is None:
                    raise
                holder.update(held.groupdict())
                return None

        def timeout(waited: float) -> Exception:
            return SimulatorError(
                f"the DuckDB file {self.database_name()} is in use by another process (PID {holder['pid']}, "
                f"{holder['program']}), most likely another task writing it: DuckDB lets one process at a time "
                f"open a file for writing. Waited {self.lock_wait_seconds:.0f} s; nothing was changed. Run this "
                "task again once the other has finished (task retries do that), give DAGs that write this "
                "file max_active_runs=1, and close programs that keep it open (a SQL client, a notebook)."
            )

        return wait_for(
            attempt,
            seconds=self.lock_wait_seconds,
            poll=self.lock_poll_seconds,
            backoff=2.0,
            on_wait=lambda: log.info(
                "The DuckDB file %s is in use by another process (PID %s); waiting up to %.0f s for it.",
                self.database_name(),
                holder["pid"],
                self.lock_wait_seconds,
            ),
            on_timeout=timeout,
        )

    def _create(self, database: str) -> None:
        """Create a missing database file in the storage format of ``storage_version``. It is created under a
        name of its own beside it and linked into place whole (a link fails if the name is taken), so a task
        killed while creating it leaves no half-written database, and a file another process created
        meanwhile is kept."""
        if database.startswith("md:") or in_memory(database) or os.path.exists(database):
            return
        folder, name = os.path.split(os.path.abspath(database))
        creating = os.path.join(folder, f".{name}.creating-{os.getpid()}-{threading.get_ident()}")
        try:
            duckdb.connect(creating, config={STORAGE_SETTING: self.storage_version}).close()
            try:
                os.link(creating, database)
            except FileExistsError:
                pass
            except OSError:  # a file system without hard links: a rename, still whole
                if not os.path.exists(database):
                    os.rename(creating, database)
        finally:
            for leftover in (creating, creating + ".wal"):
                with suppress(FileNotFoundError):
                    os.remove(leftover)

    @contextmanager
    def exclusive(self, name: str, log: Logger) -> Iterator[None]:
        database = str(self.hook.get_database())
        key = database if database.startswith("md:") or database == ":memory:" else os.path.realpath(database)
        with _PROCESS_LOCKS_GUARD:
            lock = _PROCESS_LOCKS.setdefault(key, threading.RLock())
        wait_for(
            lambda: True if lock.acquire(blocking=False) else None,
            seconds=self.lock_wait_seconds,
            poll=self.lock_poll_seconds,
            on_wait=lambda: log.info(
                "Waiting for another operation on %s in this process to finish.", self.database_name()
            ),
            on_timeout=lambda waited: SimulatorError(
                f"another operation in this process has been writing {self.database_name()} for over "
                f"{self.lock_wait_seconds:.0f} s. Nothing was changed. Run this task again once it has finished."
            ),
        )
        try:
            yield
        finally:
            lock.release()

    def cancel(self, conn: Any) -> None:
        conn.interrupt()

    def read_arrow(self, sql: str) -> pa.Table:
        return self.hook.get_conn().sql(sql).to_arrow_table()

    # --- bulk: generated rows scanned from Arrow in place ------------------------------------
    @contextmanager
    def bulk_cursor(self, transaction: bool) -> Iterator[Any]:
        cursor = self.hook.get_conn().cursor()
        try:
            if transaction:
                cursor.execute(self.dialect.begin_sql)
            yield cursor
            if transaction:
                cursor.execute(self.dialect.commit_sql)
        finally:
            cursor.close()

    def bulk_rows(self, cursor: Any, rows: Rows, columns: dict[str, Any]) -> None:
        cursor.register(self._VIEW, to_arrow(rows.table, columns))
        cursor.execute(DUCKDB.scan_rows(rows, self._VIEW))
        cursor.unregister(self._VIEW)
