"""DuckDB (and MotherDuck): rows travel as one text block per statement, split and cast in SQL.

DuckDB binds every constant of a multi-row VALUES list separately: measured, 20,000 rows take ~3 s as
VALUES and ~0.05 s as a split text block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from airflow_source_simulator.core.statements import Action, Rows
from airflow_source_simulator.data.canonical import NULL, SEPARATOR
from airflow_source_simulator.dialects.base import Dialect
from airflow_source_simulator.schema import Column, Table


class DuckDBDialect(Dialect):
    name = "duckdb"
    title = "DuckDB"
    max_rows_per_statement = 100_000
    # DbApiHook.run executes on conn.cursor(), which in DuckDB is a connection of its own: the
    # transaction has to be opened and committed on that cursor, not by the hook's conn.commit().
    begin_sql: ClassVar[str | None] = "BEGIN TRANSACTION"
    commit_sql: ClassVar[str | None] = "COMMIT"

    def _cast(self, column: Column, field: str) -> str:
        value = f"NULLIF({field}, '{NULL}')" if column.nullable else field
        return value if column.type == "varchar" else f"CAST({value} AS {self.column_type(column)})"

    def _rows_source(self, table: Table, lines: Sequence[str], alias: str) -> str:
        fields = ",\n       ".join(
            f"{self._cast(c, f'f[{i}]')} AS {c.name}" for i, c in enumerate(table.columns, start=1)
        )
        block = "\n".join(lines)
        return (
            f"(SELECT {fields}\n"
            f"FROM (SELECT string_split(unnest(string_split('{block}', chr(10))), '{SEPARATOR}') AS f)) AS {alias}"
        )

    def insert_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        columns = ", ".join(table.column_names)
        return f"INSERT INTO {table_ref} ({columns})\nSELECT * FROM {self._rows_source(table, lines, 'v')}"

    def update_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        return (
            f"UPDATE {table_ref} AS t SET {self.assignments(self.updatable(table), 'v')}\n"
            f"FROM {self._rows_source(table, lines, 'v')}\nWHERE t.{table.key} = v.{table.key}"
        )

    def scan_rows(self, rows: Rows, view: str) -> str:
        """The statement that applies ``rows`` from the Arrow table registered as ``view`` (the bulk path)."""
        key, names = rows.table.key, ", ".join(rows.table.column_names)
        if rows.action in (Action.UPDATE, Action.TOUCH):
            assignments = self.assignments(self.updatable(rows.table), "v")
            return f"UPDATE {rows.ref} AS t SET {assignments} FROM {view} AS v WHERE t.{key} = v.{key}"
        return f"INSERT INTO {rows.ref} ({names}) SELECT {names} FROM {view}"


DUCKDB = DuckDBDialect()
