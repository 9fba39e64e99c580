"""What every platform provides: rendering of the packaged SQL, and running it through a hook."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_source_simulator.schema import Column, Table
from airflow_source_simulator.statements import Statement, Step

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import Connection


def batches(lines: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(lines), size):
        yield lines[start : start + size]


class Platform(ABC):
    """One engine's SQL dialect and quirks. Subclasses hold everything engine-specific."""

    name: ClassVar[str]
    conn_types: ClassVar[tuple[str, ...]]
    max_rows_per_statement: ClassVar[int]
    begin_sql: ClassVar[str | None] = None
    commit_sql: ClassVar[str | None] = None

    def __init__(self, hook: DbApiHook) -> None:
        self.hook = hook

    @classmethod
    @abstractmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> Platform:
        """The platform with its hook, after checking the connection can hold a simulated source."""

    # --- rendering ------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def quote(cls, identifier: str) -> str: ...

    @classmethod
    @abstractmethod
    def column_type(cls, column: Column) -> str: ...

    @classmethod
    def create_schema(cls, schema: str) -> str:
        return f"CREATE SCHEMA IF NOT EXISTS {schema}"

    @classmethod
    def create_table(cls, table_ref: str, columns: Sequence[Column]) -> str:
        defs = [f"    {c.name} {cls.column_type(c)}{'' if c.nullable else ' NOT NULL'}" for c in columns]
        defs.append(f"    PRIMARY KEY ({columns[0].name})")
        return f"CREATE TABLE IF NOT EXISTS {table_ref} (\n" + ",\n".join(defs) + "\n)"

    @classmethod
    def delete_all(cls, table_ref: str) -> str:
        return f"DELETE FROM {table_ref}"

    @classmethod
    @abstractmethod
    def insert_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> list[str]:
        """Statements inserting rows given as canonical lines."""

    @classmethod
    @abstractmethod
    def update_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> list[str]:
        """Statements overwriting the non-key columns (but created_at) of rows given as canonical lines."""

    @classmethod
    @abstractmethod
    def literal(cls, column: Column, text: str) -> str:
        """A SQL literal for one canonical value."""

    # --- running --------------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[None]:
        """Scope of one operation (its checks, its transaction, its status); re-entrant."""
        yield

    def run(self, statements: Sequence[Statement], on_step: Callable[[Step], None]) -> None:
        """Run ``statements`` in one transaction, calling ``on_step`` as each one completes."""
        sql = [s.sql for s in statements]
        steps: list[Step | None] = [s.step for s in statements]
        if self.begin_sql:
            sql.insert(0, self.begin_sql)
            steps.insert(0, None)
        if self.commit_sql:
            sql.append(self.commit_sql)
            steps.append(None)
        pending = iter(steps)

        def completed(_cursor: Any) -> None:
            step = next(pending)
            if step is not None:
                on_step(step)

        self.hook.run(sql, handler=completed)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.hook.get_records(sql))

    def existing_tables(self, schemas: Sequence[str]) -> set[tuple[str, str]]:
        """(schema, table) of every table in ``schemas`` (plain identifiers, validated before)."""
        names = ", ".join(f"'{s}'" for s in schemas)
        rows = self.query(
            "SELECT table_schema, table_name FROM information_schema.tables "
            f"WHERE table_schema IN ({names}) AND table_catalog = current_database()"
        )
        return {(str(s), str(t)) for s, t in rows}
