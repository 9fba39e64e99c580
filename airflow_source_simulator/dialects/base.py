"""What every engine's SQL has in common; each engine's dialect overrides what differs.

A dialect is pure text: types, quoting, literals, DDL, row statements and change-capture statements.
It holds no connection and no state, so the packaged SQL and the contracts are rendered from it at build
time, and each operation's plan at run time, without a database. Running the SQL is a session's job.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from airflow_source_simulator.core.statements import Action, Rows, Statement, Step
from airflow_source_simulator.data.canonical import NULL, SEPARATOR, canonical_rows
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import Column, SchemaRole, Table


class Dialect:
    """One engine's SQL. Subclasses set the class attributes and override the renderings that differ."""

    name: ClassVar[str]
    title: ClassVar[str]
    max_rows_per_statement: ClassVar[int]
    # Native type of each logical type but varchar: standard SQL, which engines override where they differ.
    types: ClassVar[dict[str, str]] = {
        "int": "INTEGER",
        "decimal": "DECIMAL(10,2)",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "bool": "BOOLEAN",
    }
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

    # --- names and types ------------------------------------------------------------------------
    def quote(self, identifier: str) -> str:
        """A quoted identifier: the simulator's names are plain, but a target's come from its catalog and may
        hold anything, the quote character included (doubled, as standard SQL escapes it)."""
        return '"' + identifier.replace('"', '""') + '"'

    def fold(self, identifier: str) -> str:
        """The name the catalog stores for an unquoted-safe identifier (Unity Catalog lower-cases)."""
        return identifier

    def column_type(self, column: Column) -> str:
        return self.varchar_type.format(length=column.length) if column.type == "varchar" else self.types[column.type]

    # --- DDL ------------------------------------------------------------------------------------
    def create_schema(self, schema: str) -> str:
        return f"CREATE SCHEMA IF NOT EXISTS {schema}"

    def table_definition(self, columns: Sequence[Column], *, primary_key: bool = True) -> str:
        """The parenthesised column list of a CREATE TABLE, the first column the primary key."""
        defs = [f"    {c.name} {self.column_type(c)}{'' if c.nullable else ' NOT NULL'}" for c in columns]
        if primary_key:
            defs.append(f"    PRIMARY KEY ({columns[0].name})")
        return "(\n" + ",\n".join(defs) + "\n)"

    def create_table(self, table_ref: str, columns: Sequence[Column]) -> str:
        return f"CREATE TABLE IF NOT EXISTS {table_ref} {self.table_definition(columns)}"

    def add_column(self, table_ref: str, column: Column) -> str:
        return f"ALTER TABLE {table_ref} ADD COLUMN {column.name} {self.column_type(column)}"

    def drop_column(self, table_ref: str, column: Column) -> str:
        return f"ALTER TABLE {table_ref} DROP COLUMN {column.name}"

    # --- rows -----------------------------------------------------------------------------------
    def delete_all(self, table_ref: str) -> str:
        return f"DELETE FROM {table_ref}"

    def clear(self, table_ref: str, table: Table, floor: int) -> str:
        """A statement deleting every row whose key is below ``floor`` (the simulator's rows)."""
        return f"DELETE FROM {table_ref} WHERE {table.key} < {floor}"

    def delete_rows(self, table_ref: str, table: Table, keys: Sequence[int]) -> str:
        """A statement hard-deleting rows by key."""
        return f"DELETE FROM {table_ref} WHERE {table.key} IN ({', '.join(str(int(k)) for k in keys)})"

    def insert_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        """A statement inserting rows given as canonical lines (at most ``max_rows_per_statement``).

        Directly under INSERT, each literal of a ``VALUES`` list takes its target column's type, NULLs included.
        """
        return f"INSERT INTO {table_ref} ({', '.join(table.column_names)}) VALUES\n{self.values_rows(table, lines)}"

    def load_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        """A statement loading a state's rows into emptied tables (a plain insert unless overridden)."""
        return self.insert_rows(table_ref, table, lines)

    def update_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        """A statement overwriting the non-key columns (but created_at) of rows given as canonical lines."""
        raise NotImplementedError

    def literal(self, column: Column, text: str) -> str:
        """A SQL literal for one canonical value (standard SQL; dialects override what differs)."""
        if text == NULL:
            return "NULL"
        if column.type in ("int", "decimal", "bool"):
            return text
        escaped = text.replace("'", "''")
        return f"{column.type.upper()} '{escaped}'" if column.type in ("timestamp", "date") else f"'{escaped}'"

    def values_rows(self, table: Table, lines: Sequence[str], last: Sequence[str] = ()) -> str:
        """The rows of a ``VALUES`` list, one per line; each ends with its literal of ``last`` if given."""
        rows = [
            [self.literal(c, v) for c, v in zip(table.columns, line.split(SEPARATOR), strict=True)] for line in lines
        ]
        if last:
            rows = [[*row, literal] for row, literal in zip(rows, last, strict=True)]
        return ",\n".join("(" + ", ".join(row) + ")" for row in rows)

    @staticmethod
    def updatable(table: Table) -> list[Column]:
        """The columns an update overwrites: all but the key and created_at."""
        return [c for c in table.columns[1:] if c.name != "created_at"]

    def assignments(self, columns: Sequence[Column], source: str, *, cast: bool = False) -> str:
        """``SET`` assignments of ``columns`` from the row source aliased ``source``, cast to their types if asked."""
        return ", ".join(
            f"{c.name} = CAST({source}.{c.name} AS {self.column_type(c)})" if cast else f"{c.name} = {source}.{c.name}"
            for c in columns
        )

    def merge(self, table_ref: str, table: Table, source: str, *clauses: str, hint: str = "") -> str:
        """A ``MERGE`` of the rows of ``source`` (aliased ``s``) into ``table_ref`` (aliased ``t``) on the key."""
        head = f"MERGE INTO {table_ref}{hint} AS t\nUSING {source}\nON t.{table.key} = s.{table.key}\n"
        return head + "\n".join(clauses)

    def when_matched_update(self, columns: Sequence[Column]) -> str:
        return f"WHEN MATCHED THEN UPDATE SET {self.assignments(columns, 's')}"

    def when_not_matched_insert(self, table: Table, condition: str = "WHEN NOT MATCHED") -> str:
        values = ", ".join(f"s.{c}" for c in table.column_names)
        return f"{condition} THEN INSERT ({', '.join(table.column_names)}) VALUES ({values})"

    @staticmethod
    def chunks(rows: Rows, size: int) -> Iterator[tuple[dict[str, Any], Step]]:
        """The rows in pieces of at most ``size``, each with the step that reports it done."""
        total = len(rows)
        action = rows.action if rows.action in (Action.UPDATE, Action.DELETE, Action.TOUCH) else Action.INSERT
        for start in range(0, total, size):
            stop = min(start + size, total)
            done = stop if total > size else None
            step = Step(action, rows.table.name, total, rows.soft_deleted, done)
            yield {name: values[start:stop] for name, values in rows.columns.items()}, step

    def row_statements(self, rows: Rows) -> list[Statement]:
        """Rows as statements of at most ``max_rows_per_statement`` rows each."""
        chunks = self.chunks(rows, self.max_rows_per_statement)
        if rows.action == Action.DELETE:
            return [Statement(self.delete_rows(rows.ref, rows.table, c[rows.table.key]), step) for c, step in chunks]
        render = {
            Action.LOAD: self.load_rows,
            Action.INSERT: self.insert_rows,
            Action.UPDATE: self.update_rows,
            Action.TOUCH: self.update_rows,
        }[rows.action]
        return [Statement(render(rows.ref, rows.table, canonical_rows(rows.table, c)), step) for c, step in chunks]

    def change_statements(self, changes: Sequence[Rows]) -> list[Statement]:
        """One table's changes of a day (its touched, inserted, updated and deleted rows, in the order they apply)
        as statements: by default each kind of change its own. Engines that write a change in one statement
        override this."""
        return [s for rows in changes for s in self.row_statements(rows)]

    def statements(self, work: Sequence[Statement | Rows]) -> list[Statement]:
        """Statements and rows as statements, in order: the consecutive changes of one table together (a day's
        changes of a table, or of one key range of it), the rows of a state each on their own."""
        out: list[Statement] = []
        changes: list[Rows] = []
        for item in work:
            if changes and not (isinstance(item, Rows) and item.action != Action.LOAD and item.ref == changes[0].ref):
                out += self.change_statements(changes)
                changes = []
            if isinstance(item, Statement):
                out.append(item)
            elif item.action == Action.LOAD:
                out += self.row_statements(item)
            else:
                changes.append(item)
        if changes:
            out += self.change_statements(changes)
        return out

    # --- catalog --------------------------------------------------------------------------------
    def catalog_query(self, schemas: Sequence[str]) -> str:
        """Every column of every table in ``schemas`` (plain identifiers, validated before): schema, table,
        column, whether it is nullable (``YES``/``NO``) and its default (NULL for none)."""
        names = ", ".join(f"'{self.fold(s)}'" for s in schemas)
        return (
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, IS_NULLABLE, COLUMN_DEFAULT FROM INFORMATION_SCHEMA.COLUMNS "
            f"WHERE TABLE_SCHEMA IN ({names}) AND TABLE_CATALOG = {self.current_catalog_sql}"
        )

    # --- change capture -------------------------------------------------------------------------
    def cdc_mode(self, requested: object) -> str | None:
        """The change-capture mechanism ``enable_cdc=requested`` selects; refuses what this engine lacks."""
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

    def cdc_statements(self, mode: str, schemas: Mapping[SchemaRole, str], tables: Sequence[Table]) -> list[Statement]:
        """Idempotent statements switching ``mode`` on for ``tables`` (schemas are plain names, by role)."""
        raise NotImplementedError

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        """What the log should tell a user after switching capture on (how to subscribe, caveats)."""
        return []
