"""Azure SQL Database and SQL Server: T-SQL types, guarded DDL, 1000-row VALUES, MERGE for the baseline.

Nothing here issues ``USE``: Azure SQL Database refuses it, so the database is the connection's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from airflow_source_simulator.core.statements import Action, Statement, Step
from airflow_source_simulator.data.canonical import NULL
from airflow_source_simulator.dialects.base import Dialect
from airflow_source_simulator.schema import Column, SchemaRole, Table


def _if(condition: str, body: str) -> str:
    """A guarded statement: what makes T-SQL DDL safe to run again (a procedure call in a block, so
    that its arguments cannot be read as the start of another statement)."""
    return f"IF {condition}\nBEGIN\n    {body}\nEND" if body.startswith("EXEC") else f"IF {condition}\n{body}"


class MsSqlDialect(Dialect):
    name = "mssql"
    title = "SQL Server / Azure SQL"
    types: ClassVar[dict[str, str]] = {**Dialect.types, "int": "INT", "timestamp": "DATETIME2(0)", "bool": "BIT"}
    varchar_type = "NVARCHAR({length})"
    # T-SQL caps a table value constructor at 1000 rows.
    max_rows_per_statement = 1000
    # MERGE must end with a semicolon; every other statement accepts one.
    statement_terminator = ";"
    current_catalog_sql = "DB_NAME()"
    cdc_modes = ("change_tracking", "cdc")

    def quote(self, identifier: str) -> str:
        return "[" + identifier.replace("]", "]]") + "]"

    def create_schema(self, schema: str) -> str:
        # CREATE SCHEMA must be alone in its batch, hence EXEC; QUOTENAME compares the quoted form,
        # which is what the placeholder becomes.
        return _if(
            f"NOT EXISTS (SELECT 1 FROM sys.schemas WHERE QUOTENAME(name) = N'{schema}')",
            f"EXEC sys.sp_executesql N'CREATE SCHEMA {schema}'",
        )

    def create_table(self, table_ref: str, columns: Sequence[Column]) -> str:
        return _if(
            f"OBJECT_ID(N'{table_ref}', N'U') IS NULL", f"CREATE TABLE {table_ref} {self.table_definition(columns)}"
        )

    def add_column(self, table_ref: str, column: Column) -> str:
        return f"ALTER TABLE {table_ref} ADD {column.name} {self.column_type(column)} NULL"

    def literal(self, column: Column, text: str) -> str:
        if text == NULL:
            # A VALUES column of NULLs alone is typed INT, which does not convert to DATE or DATETIME2.
            return f"CAST(NULL AS {self.column_type(column)})" if column.type in ("timestamp", "date") else "NULL"
        if column.type == "bool":
            return "1" if text == "true" else "0"
        if column.type in ("int", "decimal"):
            return text
        escaped = text.replace("'", "''")
        return f"'{escaped}'" if column.type in ("timestamp", "date") else f"N'{escaped}'"

    def _merge(self, table_ref: str, table: Table, lines: Sequence[str], *clauses: str) -> str:
        source = f"(VALUES\n{self.values_rows(table, lines)}\n) AS s ({', '.join(table.column_names)})"
        return self.merge(table_ref, table, source, *clauses, hint=" WITH (HOLDLOCK)")

    def load_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        """An upsert, as the original loads Azure SQL: a retried load never duplicates a key."""
        return self._merge(
            table_ref,
            table,
            lines,
            self.when_matched_update(table.columns[1:]),
            self.when_not_matched_insert(table, "WHEN NOT MATCHED BY TARGET"),
        )

    def update_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        return self._merge(table_ref, table, lines, self.when_matched_update(self.updatable(table)))

    def cdc_statements(self, mode: str, schemas: Mapping[SchemaRole, str], tables: Sequence[Table]) -> list[Statement]:
        """The guarded statements that switch ``mode`` on for the database, then for each table."""

        def ref(t: Table) -> str:
            return f"{self.quote(schemas[t.role])}.{self.quote(t.name)}"

        if mode == "change_tracking":
            # Works on every edition and on Azure SQL Database; ALTER DATABASE cannot run in a transaction.
            database = (
                "NOT EXISTS (SELECT 1 FROM sys.change_tracking_databases WHERE database_id = DB_ID())",
                "ALTER DATABASE CURRENT SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 7 DAYS, AUTO_CLEANUP = ON)",
            )

            def table(t: Table) -> tuple[str, str]:
                return (
                    f"NOT EXISTS (SELECT 1 FROM sys.change_tracking_tables WHERE object_id = OBJECT_ID(N'{ref(t)}'))",
                    f"ALTER TABLE {ref(t)} ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)",
                )

        else:
            # Change data capture: sysadmin to enable the database, SQL Server Agent (or Azure's scheduler) to capture.
            database = (
                "NOT EXISTS (SELECT 1 FROM sys.databases WHERE database_id = DB_ID() AND is_cdc_enabled = 1)",
                "EXEC sys.sp_cdc_enable_db",
            )

            def table(t: Table) -> tuple[str, str]:
                return (
                    f"NOT EXISTS (SELECT 1 FROM sys.tables WHERE object_id = OBJECT_ID(N'{ref(t)}') "
                    "AND is_tracked_by_cdc = 1)",
                    f"EXEC sys.sp_cdc_enable_table @source_schema = N'{schemas[t.role]}', @source_name = N'{t.name}', "
                    "@role_name = NULL, @supports_net_changes = 1",
                )

        return [
            Statement(_if(*database), Step(Action.CDC, "database")),
            *(Statement(_if(*table(t)), Step(Action.CDC, t.name)) for t in tables),
        ]

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        if mode == "change_tracking":
            return [
                "Read changes with CHANGETABLE(CHANGES <table>, <last version>) and CHANGE_TRACKING_CURRENT_VERSION()."
            ]
        return [
            "Read changes with cdc.fn_cdc_get_all_changes_<schema>_<table>; capture needs SQL Server Agent running."
        ]


MSSQL = MsSqlDialect()
