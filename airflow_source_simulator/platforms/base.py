"""What every platform provides: rendering of the packaged SQL, and running it through a hook."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from logging import Logger, getLogger
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_source_simulator.data.canonical import NULL, SEPARATOR, canonical_rows
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import Column, Table
from airflow_source_simulator.statements import Rows, Statement, Step, Work

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import Connection


_LOG = getLogger(__name__)


class HeldConnection:
    """A DB-API connection that survives the hook's close() after each run(), for one operation."""

    def __init__(self, conn: Any) -> None:
        object.__setattr__(self, "_conn", conn)

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # DbApiHook.set_autocommit assigns ``conn.autocommit``: it must reach the real connection.
        setattr(self._conn, name, value)


class Platform(ABC):
    """One engine's SQL dialect and quirks. Subclasses hold everything engine-specific."""

    name: ClassVar[str]
    title: ClassVar[str]
    conn_types: ClassVar[tuple[str, ...]]
    max_rows_per_statement: ClassVar[int]
    types: ClassVar[dict[str, str]]  # native type of each logical type but varchar
    varchar_type: ClassVar[str] = "VARCHAR({length})"
    # Engines with multi-statement transactions run an operation atomically; the others (Databricks)
    # render every statement idempotent so that a retry completes a half-applied operation.
    transactional: ClassVar[bool] = True
    begin_sql: ClassVar[str | None] = None
    commit_sql: ClassVar[str | None] = None
    statement_terminator: ClassVar[str] = ""
    current_catalog_sql: ClassVar[str] = "current_database()"
    # Change-capture mechanisms ``enable_cdc`` accepts; the first is what ``enable_cdc=True`` means.
    cdc_modes: ClassVar[tuple[str, ...]] = ()
    connect_hint: ClassVar[str] = ""  # appended to a connection failure's message

    def __init__(self, hook: DbApiHook) -> None:
        self.hook = hook

    @classmethod
    @abstractmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> Platform:
        """The platform with its hook, after checking the connection can hold a simulated source."""

    # --- rendering ------------------------------------------------------------------------------
    @classmethod
    def quote(cls, identifier: str) -> str:
        """A quoted identifier (names are validated plain identifiers, so nothing needs escaping)."""
        return f'"{identifier}"'

    @classmethod
    def fold(cls, identifier: str) -> str:
        """The name the catalog stores for an unquoted-safe identifier (Unity Catalog lower-cases)."""
        return identifier

    @classmethod
    def column_type(cls, column: Column) -> str:
        return cls.varchar_type.format(length=column.length) if column.type == "varchar" else cls.types[column.type]

    @classmethod
    def create_schema(cls, schema: str) -> str:
        return f"CREATE SCHEMA IF NOT EXISTS {schema}"

    @classmethod
    def table_definition(cls, columns: Sequence[Column], *, primary_key: bool = True) -> str:
        """The parenthesised column list of a CREATE TABLE, the first column the primary key."""
        defs = [f"    {c.name} {cls.column_type(c)}{'' if c.nullable else ' NOT NULL'}" for c in columns]
        if primary_key:
            defs.append(f"    PRIMARY KEY ({columns[0].name})")
        return "(\n" + ",\n".join(defs) + "\n)"

    @classmethod
    def create_table(cls, table_ref: str, columns: Sequence[Column]) -> str:
        return f"CREATE TABLE IF NOT EXISTS {table_ref} {cls.table_definition(columns)}"

    @classmethod
    def delete_all(cls, table_ref: str) -> str:
        return f"DELETE FROM {table_ref}"

    @classmethod
    def delete_rows(cls, table_ref: str, table: Table, keys: Sequence[int]) -> str:
        """A statement hard-deleting rows by key."""
        return f"DELETE FROM {table_ref} WHERE {table.key} IN ({', '.join(str(int(k)) for k in keys)})"

    @classmethod
    def add_column(cls, table_ref: str, column: Column) -> str:
        return f"ALTER TABLE {table_ref} ADD COLUMN {column.name} {cls.column_type(column)}"

    @classmethod
    def drop_column(cls, table_ref: str, column: Column) -> str:
        return f"ALTER TABLE {table_ref} DROP COLUMN {column.name}"

    @classmethod
    @abstractmethod
    def insert_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        """A statement inserting rows given as canonical lines (at most ``max_rows_per_statement``)."""

    @classmethod
    def load_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        """A statement loading baseline rows into emptied tables (a plain insert unless overridden)."""
        return cls.insert_rows(table_ref, table, lines)

    @classmethod
    @abstractmethod
    def update_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        """A statement overwriting the non-key columns (but created_at) of rows given as canonical lines."""

    @classmethod
    def literal(cls, column: Column, text: str) -> str:
        """A SQL literal for one canonical value (standard SQL; platforms override what differs)."""
        if text == NULL:
            return "NULL"
        if column.type in ("int", "decimal", "bool"):
            return text
        escaped = text.replace("'", "''")
        return f"{column.type.upper()} '{escaped}'" if column.type in ("timestamp", "date") else f"'{escaped}'"

    @classmethod
    def values_rows(cls, table: Table, lines: Sequence[str]) -> str:
        """The rows of a ``VALUES`` list, one per line."""
        return ",\n".join(
            "(" + ", ".join(cls.literal(c, v) for c, v in zip(table.columns, line.split(SEPARATOR), strict=True)) + ")"
            for line in lines
        )

    @staticmethod
    def updatable(table: Table) -> list[Column]:
        """The columns an update overwrites: all but the key and created_at."""
        return [c for c in table.columns[1:] if c.name != "created_at"]

    # --- change capture -------------------------------------------------------------------------
    def cdc_mode(self, requested: bool | str) -> str | None:
        """The change-capture mechanism ``enable_cdc=requested`` selects; refuses what this platform lacks."""
        if requested is False or requested is None:
            return None
        if not self.cdc_modes:
            raise SimulatorError(
                f"enable_cdc is not available on {self.title}, which has no change capture; "
                "it is available on PostgreSQL, SQL Server / Azure SQL and Databricks."
            )
        if requested is True:
            return self.cdc_modes[0]
        if requested in self.cdc_modes:
            return str(requested)
        raise SimulatorError(
            f"enable_cdc={requested!r} is not a change-capture mechanism of {self.title}; "
            f"use True or one of: {', '.join(self.cdc_modes)}."
        )

    def cdc_statements(self, mode: str, shop: str, crm: str, tables: Sequence[Table]) -> list[Statement]:
        """Idempotent statements switching ``mode`` on for ``tables`` (schemas are plain names)."""
        raise NotImplementedError

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        """What the log should tell a user after switching capture on (how to subscribe, caveats)."""
        return []

    # --- running --------------------------------------------------------------------------------
    # How long a writing operation waits for another one on the same source before it gives up.
    lock_wait_seconds: ClassVar[float] = 600.0

    def connect(self, log: Logger) -> Any:
        """Open the DB-API connection an operation holds. Platforms turn their engine's failures that a
        user can act on (a file another process holds) into a ``SimulatorError`` here."""
        return self.hook.get_conn()

    @contextmanager
    def session(self, log: Logger | None = None) -> Iterator[None]:
        """Hold one connection for a whole operation (its checks, its transaction, its status); re-entrant.

        Hooks open a connection per run(): a DuckDB file costs ~30 ms to open, a Databricks session
        seconds. Holding one also keeps DuckDB's file lock from the ledger check to the commit.
        """
        if "get_conn" in vars(self.hook):
            yield
            return
        try:
            conn = self.connect(log or _LOG)
        except SimulatorError:
            raise
        except Exception as error:
            raise SimulatorError(f"could not connect to {self.title}: {error}{self.connect_hint}") from error
        held = HeldConnection(conn)
        self.hook.get_conn = lambda: held  # type: ignore[method-assign]
        try:
            yield
        finally:
            del self.hook.get_conn
            conn.close()

    def exclusive(self, name: str, log: Logger) -> AbstractContextManager[None]:
        """Keep other writers of the source whose ledger is in schema ``name`` out until the block ends.

        Entered inside ``session()``, before the ledger is read, so that a second writer waits and then
        reads the ledger the first one wrote (a day already applied is then a logged no-op). Platforms
        with a lock to take override this; where there is none, the ledger's primary key (transactional
        engines) makes the second of two concurrent writers fail instead of applying a day twice.
        """
        return nullcontext()

    def run(self, work: Sequence[Work], on_step: Callable[[Step], None], *, transaction: bool = True) -> None:
        """Run ``work`` (in one transaction if asked and possible), calling ``on_step`` after each statement.

        Generated rows go in bulk where the platform has a bulk path, and as batched statements elsewhere.
        """
        # An engine without multi-statement transactions runs every statement on its own (autocommit).
        transaction = transaction and self.transactional
        if self.bulk and any(isinstance(w, Rows) for w in work):
            self.run_bulk(work, on_step, transaction=transaction)
            return
        statements = [s for w in work for s in (self.row_statements(w) if isinstance(w, Rows) else [w])]
        sql = [s.sql + self.statement_terminator for s in statements]
        steps: list[Step | None] = [s.step for s in statements]
        if transaction and self.begin_sql:
            sql.insert(0, self.begin_sql)
            steps.insert(0, None)
        if transaction and self.commit_sql:
            sql.append(self.commit_sql)
            steps.append(None)
        pending = iter(steps)

        def completed(_cursor: Any) -> None:
            step = next(pending)
            if step is not None:
                on_step(step)

        self.hook.run(sql, autocommit=not transaction, handler=completed)

    bulk: ClassVar[bool] = False
    bulk_chunk_rows: ClassVar[int] = 500_000  # rows per bulk statement: the grain of progress lines

    def run_bulk(self, work: Sequence[Work], on_step: Callable[[Step], None], *, transaction: bool) -> None:
        """Run statements and bulk row loads on the held connection, through the driver's own bulk API."""
        with self.bulk_cursor(transaction) as cursor:
            for item in work:
                if isinstance(item, Statement):
                    cursor.execute(item.sql)
                    on_step(item.step)
                    continue
                for columns, step in self.chunks(item, self.bulk_chunk_rows):
                    if item.action == "delete":  # a few keys: a plain statement
                        cursor.execute(self.delete_rows(item.ref, item.table, columns[item.table.key]))
                    else:
                        self.bulk_rows(cursor, item, columns)
                    on_step(step)

    def bulk_cursor(self, transaction: bool) -> AbstractContextManager[Any]:
        """A cursor on the held connection, in a transaction committed on leaving if asked."""
        raise NotImplementedError

    def bulk_rows(self, cursor: Any, rows: Rows, columns: dict[str, Any]) -> None:
        """Load one chunk of ``rows`` through the driver's bulk API."""
        raise NotImplementedError

    @staticmethod
    def chunks(rows: Rows, size: int) -> Iterator[tuple[dict[str, Any], Step]]:
        """The rows in pieces of at most ``size``, each with the step that reports it done."""
        total = len(rows)
        action = rows.action if rows.action in ("update", "delete", "touch") else "insert"
        for start in range(0, total, size):
            stop = min(start + size, total)
            done = stop if total > size else None
            step = Step(action, rows.table.name, total, rows.soft_deleted, done)
            yield {name: values[start:stop] for name, values in rows.columns.items()}, step

    @classmethod
    def row_statements(cls, rows: Rows) -> list[Statement]:
        """Rows as statements of at most ``max_rows_per_statement`` rows each."""
        chunks = cls.chunks(rows, cls.max_rows_per_statement)
        if rows.action == "delete":
            return [Statement(cls.delete_rows(rows.ref, rows.table, c[rows.table.key]), step) for c, step in chunks]
        render = {
            "load": cls.load_rows,
            "insert": cls.insert_rows,
            "update": cls.update_rows,
            "touch": cls.update_rows,
        }[rows.action]
        return [Statement(render(rows.ref, rows.table, canonical_rows(rows.table, c)), step) for c, step in chunks]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.hook.get_records(sql)]

    def existing_columns(self, schema: str, table: str) -> set[str]:
        rows = self.query(
            "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = "
            f"'{self.fold(schema)}' AND TABLE_NAME = '{table}' AND TABLE_CATALOG = {self.current_catalog_sql}"
        )
        return {str(name).lower() for (name,) in rows}

    def existing_tables(self, schemas: Sequence[str]) -> set[tuple[str, str]]:
        """(schema, table) of every table in ``schemas`` (plain identifiers, validated before)."""
        names = ", ".join(f"'{self.fold(s)}'" for s in schemas)
        rows = self.query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM INFORMATION_SCHEMA.TABLES "
            f"WHERE TABLE_SCHEMA IN ({names}) AND TABLE_CATALOG = {self.current_catalog_sql}"
        )
        return {(str(s), str(t)) for s, t in rows}
