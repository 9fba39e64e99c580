"""What the reliability tests share: reading a source back, striking its connection, and running the
transactional engines the way Databricks runs (no transaction).

Everything here drives real engines. A fault is struck on the real DB-API connection: a DuckDB connection
is closed, a PostgreSQL backend is terminated from another session (``pg_terminate_backend``); the
statement that follows then fails inside the driver, as it would after a crash or a network cut.
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import duckdb
import psycopg
from airflow.providers.duckdb.hooks.duckdb import DuckDBHook
from airflow.providers.postgres.hooks.postgres import PostgresHook

from airflow_source_simulator.core.statements import Statement, Step, Work
from airflow_source_simulator.core.states import expected_tables
from airflow_source_simulator.data.canonical import digest, format_fetched_rows
from airflow_source_simulator.dialects.duckdb import DuckDBDialect
from airflow_source_simulator.dialects.postgres import PostgresDialect
from airflow_source_simulator.schema import LEDGER_TABLE, TABLES_BY_NAME, Table, tables_at
from airflow_source_simulator.sessions.base import Session
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.sessions.postgres import PostgresSession
from tests.support.postgres import PostgresServer

# Ledger columns compared between states: all but the wall-clock ``applied_at``.
LEDGER_COLUMNS = "seq, operation, day, scale, scenario, package_version, ledger_version, state_digest"
SCHEMAS = ("jaffle_shop", "jaffle_crm")
Snapshot = dict[str, list[tuple[Any, ...]]]


# --- reading a source back, on a connection of the test's own -------------------------------------------
def _snapshot(execute: Callable[[str], list[tuple[Any, ...]]], schemas: Sequence[str]) -> Snapshot:
    names = ", ".join(f"'{s}'" for s in schemas)
    tables = execute(
        f"SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ({names}) ORDER BY 1, 2"
    )
    out: Snapshot = {}
    for schema, table in tables:
        # The simulator's ledger without its wall-clock column; a same-named table elsewhere is not it.
        columns = LEDGER_COLUMNS if (schema, table) == ("jaffle_shop", LEDGER_TABLE) else "*"
        out[f"{schema}.{table}"] = execute(f'SELECT {columns} FROM "{schema}"."{table}" ORDER BY 1')
    return out


def duckdb_snapshot(path: Path, schemas: Sequence[str] = ("jaffle_shop", "jaffle_crm")) -> Snapshot:
    """Every row of every table in ``schemas`` (the ledger without its wall-clock column)."""
    if not path.exists():
        return {}
    with duckdb.connect(str(path), read_only=True) as con:
        return _snapshot(lambda sql: con.execute(sql).fetchall(), schemas)


def postgres_snapshot(uri: str, schemas: Sequence[str] = ("jaffle_shop", "jaffle_crm")) -> Snapshot:
    with psycopg.connect(uri, autocommit=True) as conn:
        return _snapshot(lambda sql: conn.execute(sql).fetchall(), schemas)


@dataclass(frozen=True)
class Fingerprint:
    """A source in brief: the ledger's rows (but their wall-clock column), and each other table's row count
    and the MD5 of its rows as text, in text order, computed by the engine (much cheaper than a snapshot)."""

    ledger: list[tuple[Any, ...]]
    tables: dict[str, tuple[int, str]]
    keys: list[tuple[Any, ...]] = field(default_factory=list)  # (schema, table, primary key constraint)

    def differences(self, other: Fingerprint) -> list[str]:
        """What differs from ``other``, in words short enough for an assertion message."""
        out = []
        if self.ledger != other.ledger:
            out.append(f"ledger days {[row[2] for row in self.ledger]} against {[row[2] for row in other.ledger]}")
        names = sorted(set(self.tables) | set(other.tables))
        out += [
            f"{name} {self.tables.get(name)} against {other.tables.get(name)}"
            for name in names
            if self.tables.get(name) != other.tables.get(name)
        ]
        if self.keys != other.keys:
            out.append(f"primary keys {sorted(set(self.keys) ^ set(other.keys))} on one side only")
        return out


_ROW_TEXT = {"duckdb": "CAST(t AS VARCHAR)", "postgres": "t::text"}


def _fingerprint(engine: str, execute: Callable[[str], list[tuple[Any, ...]]], schemas: Sequence[str]) -> Fingerprint:
    names = ", ".join(f"'{s}'" for s in schemas)
    tables = execute(
        f"SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ({names}) ORDER BY 1, 2"
    )
    ledger = [f'"{schema}"."{table}"' for schema, table in tables if (schema, table) == ("jaffle_shop", LEDGER_TABLE)]
    others = [(schema, table) for schema, table in tables if (schema, table) != ("jaffle_shop", LEDGER_TABLE)]
    text = _ROW_TEXT[engine]
    figures = (
        execute(
            " UNION ALL ".join(
                f"SELECT '{schema}.{table}', COUNT(*), md5(COALESCE(string_agg({text}, chr(10) ORDER BY {text}), '')) "
                f'FROM "{schema}"."{table}" AS t'
                for schema, table in others
            )
        )
        if others
        else []
    )
    keys = execute(
        "SELECT table_schema, table_name, constraint_name FROM information_schema.table_constraints "
        f"WHERE constraint_type = 'PRIMARY KEY' AND table_schema IN ({names}) ORDER BY 1, 2"
    )
    return Fingerprint(
        execute(f"SELECT {LEDGER_COLUMNS} FROM {ledger[0]} ORDER BY 1") if ledger else [],
        {str(name): (int(count), str(md5)) for name, count, md5 in figures},
        [tuple(key) for key in keys],
    )


def fingerprint_through(session: Session) -> Fingerprint:
    """The fingerprint read on the session's own connection (while it holds one: no second connection)."""
    return _fingerprint(session.name, session.query, SCHEMAS)


def ledger_rows(snapshot: Snapshot, shop_schema: str = "jaffle_shop") -> list[tuple[Any, ...]]:
    return snapshot.get(f"{shop_schema}.{LEDGER_TABLE}", [])


def table_digests(snapshot: Snapshot, day: int, scale: int = 1, profile: str = "classic") -> dict[str, str]:
    """The content digest of each table of state ``day`` as the snapshot holds it (the manifest's canonical form)."""
    out = {}
    for table in tables_at(profile, day):
        schema = "jaffle_shop" if table.role == "shop" else "jaffle_crm"
        rows = snapshot.get(f"{schema}.{table.name}", [])
        # The snapshot reads ``*``, and the tables' columns are created in the schema's order.
        out[table.name] = digest(format_fetched_rows(table, rows))
    return out


@functools.cache
def expected_digests(day: int, scale: int = 1, profile: str = "classic") -> dict[str, str]:
    """The manifest's digest of each table at (scale, day, profile) (generated states' computed once)."""
    return {name: figures["digest"] for name, figures in expected_tables(day, scale, profile).items()}


def holds_state(snapshot: Snapshot, day: int, scale: int = 1) -> bool:
    """The ledger's last row says ``day`` and every table equals the manifest of that day."""
    ledger = ledger_rows(snapshot)
    return bool(ledger) and ledger[-1][2] == day and table_digests(snapshot, day, scale) == expected_digests(day, scale)


# --- striking the connection ----------------------------------------------------------------------------
@dataclass
class Fault:
    """Counts every call that reaches the server (execute, COPY, commit) and, at call number ``at``, strikes
    the connection just before the call goes out. ``calls`` names each call, for messages."""

    at: int | None = None
    calls: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)  # the SQL of every execute and COPY, in full
    strike: Callable[[], None] = lambda: None
    struck: bool = False

    def before(self, call: str, sql: object = None) -> None:
        self.calls.append(call)
        if sql is not None:
            self.statements.append(str(sql))
        if len(self.calls) == self.at:
            self.struck = True
            self.strike()


def _describe(sql: object) -> str:
    return " ".join(str(sql).split())[:60]


class CountingCursor:
    def __init__(self, cursor: Any, fault: Fault) -> None:
        object.__setattr__(self, "_cursor", cursor)
        object.__setattr__(self, "_fault", fault)

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self._fault.before(f"execute {_describe(sql)}", sql)
        return self._cursor.execute(sql, *args, **kwargs)

    def copy(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self._fault.before(f"copy {_describe(sql)}", sql)
        return self._cursor.copy(sql, *args, **kwargs)

    def __enter__(self) -> CountingCursor:
        self._cursor.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._cursor.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._cursor, name, value)


class CountingConnection:
    def __init__(self, conn: Any, fault: Fault) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_fault", fault)

    def cursor(self, *args: Any, **kwargs: Any) -> CountingCursor:
        return CountingCursor(self._conn.cursor(*args, **kwargs), self._fault)

    def commit(self) -> None:
        self._fault.before("commit")
        self._conn.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)


class StrikableDuckDBHook(DuckDBHook):
    """A DuckDB hook whose connection is closed (the whole database handle, cursors included) at ``fault.at``."""

    def __init__(self, fault: Fault, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fault = fault

    def get_conn(self) -> Any:
        conn = super().get_conn()
        self.fault.strike = conn.close
        return CountingConnection(conn, self.fault)


class StrikablePostgresHook(PostgresHook):
    """A PostgreSQL hook whose server backend is terminated from another session at ``fault.at``."""

    def __init__(self, fault: Fault, admin_uri: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fault, self.admin_uri = fault, admin_uri

    def get_conn(self) -> Any:
        conn = super().get_conn()
        pid = cast(Any, conn).info.backend_pid  # psycopg 3

        def terminate() -> None:
            with psycopg.connect(self.admin_uri, autocommit=True) as admin:
                # Wait (up to 10 s) until the backend has exited, so the next call meets a dead connection.
                assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", [pid]).fetchone() == (True,)

        self.fault.strike = terminate
        return CountingConnection(conn, self.fault)


# --- the transactional engines run the way Databricks runs -----------------------------------------------
def _insert_if_absent(sql: str, key: str) -> str:
    """An INSERT that inserts a row only where its key is free: what Databricks' ``MERGE … WHEN NOT MATCHED
    THEN INSERT`` does, in the SQL both DuckDB and PostgreSQL accept."""
    return f"{sql}\nON CONFLICT ({key}) DO NOTHING"


def _idempotent(work: Sequence[Work]) -> list[Work]:
    """The packaged SQL's inserts made idempotent (its other statements are: CREATE … IF NOT EXISTS, DELETE,
    UPDATE to given values)."""
    return [
        Statement(_insert_if_absent(w.sql, TABLES_BY_NAME[w.step.target].key), w.step)
        if isinstance(w, Statement) and w.step.action == "insert" and w.sql.lstrip().upper().startswith("INSERT")
        else w
        for w in work
    ]


class DuckDBWithoutTransactions(DuckDBDialect):
    """DuckDB's SQL as the Databricks dialect writes it: no transaction, and every insert idempotent (a row is
    inserted only where its key is free, as Databricks' MERGE does). Rows go in statements of at most 100 rows,
    so that a day's larger tables take several and a fault also lands between two statements of one table."""

    title = "DuckDB (without transactions)"
    transactional = False
    begin_sql = None
    commit_sql = None
    max_rows_per_statement = 100

    def insert_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        return _insert_if_absent(super().insert_rows(table_ref, table, lines), table.key)


class PostgresWithoutTransactions(PostgresDialect):
    """PostgreSQL's SQL as the Databricks dialect writes it (see ``DuckDBWithoutTransactions``)."""

    title = "PostgreSQL (without transactions)"
    transactional = False
    max_rows_per_statement = 100

    def insert_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        return _insert_if_absent(super().insert_rows(table_ref, table, lines), table.key)


class DuckDBSessionWithoutTransactions(DuckDBSession):
    """DuckDB run as the Databricks session runs: every statement committed on its own, the ledger last, and
    generated rows as statements (Databricks has no bulk path either)."""

    dialect = DuckDBWithoutTransactions()
    bulk = False

    def run(
        self,
        work: Sequence[Work],
        on_step: Callable[[Step], None],
        *,
        transaction: bool = True,
        schemas: Sequence[str] = (),
    ) -> None:
        super().run(_idempotent(work), on_step, transaction=transaction, schemas=schemas)


class PostgresSessionWithoutTransactions(PostgresSession):
    """PostgreSQL run as the Databricks session runs (see ``DuckDBSessionWithoutTransactions``)."""

    dialect = PostgresWithoutTransactions()
    bulk = False

    def run(
        self,
        work: Sequence[Work],
        on_step: Callable[[Step], None],
        *,
        transaction: bool = True,
        schemas: Sequence[str] = (),
    ) -> None:
        super().run(_idempotent(work), on_step, transaction=transaction, schemas=schemas)


# --- sources that can be put back to a state --------------------------------------------------------------
class DuckDBSource:
    """A DuckDB file, and a saved copy of it to go back to."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "source.duckdb"
        self.saved = folder / "saved.duckdb"

    def save(self) -> None:
        if self.path.exists():
            shutil.copyfile(self.path, self.saved)
        else:
            self.saved.unlink(missing_ok=True)

    def restore(self) -> None:
        self.path.unlink(missing_ok=True)
        Path(f"{self.path}.wal").unlink(missing_ok=True)
        if self.saved.exists():
            shutil.copyfile(self.saved, self.path)

    def snapshot(self) -> Snapshot:
        return duckdb_snapshot(self.path)

    def execute(self, *statements: str) -> list[tuple[Any, ...]]:
        """Statements of the test's own (a user's), on a connection of its own; the last one's rows."""
        with duckdb.connect(str(self.path)) as con:
            for sql in statements:
                rows = con.execute(sql).fetchall()
            return rows

    def settle(self) -> None:
        """Nothing to wait for: a killed process's writes to the file ended with it."""

    def fingerprint(self) -> Fingerprint:
        if not self.path.exists():
            return Fingerprint([], {})
        with duckdb.connect(str(self.path), read_only=True) as con:
            return _fingerprint("duckdb", lambda sql: con.execute(sql).fetchall(), SCHEMAS)

    def session(self, fault: Fault | None = None, transactional: bool = True) -> DuckDBSession:
        kind = DuckDBSession if transactional else DuckDBSessionWithoutTransactions
        if fault is None:
            return kind.for_database(str(self.path))
        return kind(StrikableDuckDBHook(fault, database=str(self.path), log_sql=False))


class PostgresSource:
    """A database on the private cluster, and a template database to go back to (CREATE DATABASE … TEMPLATE)."""

    def __init__(self, server: PostgresServer, name: str, monkeypatch: Any) -> None:
        self.server, self.name = server, name
        self.saved = f"{name}_saved"
        self.conn_id = "reliability_pg"
        monkeypatch.setenv(f"AIRFLOW_CONN_{self.conn_id.upper()}", server.airflow_connection(name))
        self._admin(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')

    def _admin(self, *statements: str) -> None:
        with psycopg.connect(self.server.uri(), autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)

    def save(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.saved}"', f'CREATE DATABASE "{self.saved}" TEMPLATE "{self.name}"')

    def restore(self) -> None:
        self._admin(
            f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
            f'CREATE DATABASE "{self.name}" TEMPLATE "{self.saved}"',
        )

    def snapshot(self) -> Snapshot:
        return postgres_snapshot(self.server.uri(self.name))

    def execute(self, *statements: str) -> list[tuple[Any, ...]]:
        """Statements of the test's own (a user's), on a connection of its own; the last one's rows."""
        with psycopg.connect(self.server.uri(self.name), autocommit=True) as conn:
            rows: list[tuple[Any, ...]] = []
            for sql in statements:
                cursor = conn.execute(sql)
                rows = cursor.fetchall() if cursor.description else []
            return rows

    def settle(self, seconds: float = 60.0) -> None:
        """Wait until no other session is connected to the database. A client killed after sending COMMIT
        leaves its server process to finish the commit, and one killed mid-statement leaves it to finish the
        statement before it reads the end of the connection and rolls back: the state the kill left is
        final only once that server process has gone."""
        deadline = time.monotonic() + seconds
        with psycopg.connect(self.server.uri(self.name), autocommit=True) as conn:
            while True:
                others = conn.execute(
                    "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchall()
                if not others:
                    return
                assert time.monotonic() < deadline, f"sessions still connected after {seconds:g} s: {others}"
                time.sleep(0.02)

    def fingerprint(self) -> Fingerprint:
        """Read in one snapshot (REPEATABLE READ), so that a commit landing meanwhile cannot mix two states."""
        with psycopg.connect(self.server.uri(self.name)) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                return _fingerprint("postgres", lambda sql: conn.execute(sql).fetchall(), SCHEMAS)

    def session(self, fault: Fault | None = None, transactional: bool = True) -> PostgresSession:
        kind = PostgresSession if transactional else PostgresSessionWithoutTransactions
        if fault is None:
            return kind(PostgresHook(postgres_conn_id=self.conn_id, log_sql=False))
        return kind(StrikablePostgresHook(fault, self.server.uri(), postgres_conn_id=self.conn_id, log_sql=False))

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'DROP DATABASE IF EXISTS "{self.saved}"')


Source = DuckDBSource | PostgresSource
