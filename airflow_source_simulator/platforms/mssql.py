"""Azure SQL Database and SQL Server: T-SQL types, guarded DDL, 1000-row VALUES, MERGE for the baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from airflow_source_simulator.data.canonical import NULL
from airflow_source_simulator.platforms.base import Platform
from airflow_source_simulator.schema import Column, Table
from airflow_source_simulator.statements import Statement, Step

if TYPE_CHECKING:
    from airflow.sdk import Connection


def _if(condition: str, body: str) -> str:
    """A guarded statement: what makes T-SQL DDL safe to run again (a procedure call in a block, so
    that its arguments cannot be read as the start of another statement)."""
    return f"IF {condition}\nBEGIN\n    {body}\nEND" if body.startswith("EXEC") else f"IF {condition}\n{body}"


class MsSqlPlatform(Platform):
    """Nothing here issues ``USE``: Azure SQL Database refuses it, so the database is the connection's."""

    name = "mssql"
    title = "SQL Server / Azure SQL"
    conn_types = ("mssql",)
    types: ClassVar[dict[str, str]] = {
        "int": "INT",
        "decimal": "DECIMAL(10,2)",
        "timestamp": "DATETIME2(0)",
        "date": "DATE",
        "bool": "BIT",
    }
    varchar_type = "NVARCHAR({length})"
    # T-SQL caps a table value constructor at 1000 rows.
    max_rows_per_statement = 1000
    # MERGE must end with a semicolon; every other statement accepts one.
    statement_terminator = ";"
    current_catalog_sql = "DB_NAME()"
    cdc_modes = ("change_tracking", "cdc")

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> MsSqlPlatform:
        from airflow.providers.microsoft.mssql.hooks.mssql import MsSqlHook

        return cls(MsSqlHook(mssql_conn_id=conn_id, log_sql=False))

    @classmethod
    def quote(cls, identifier: str) -> str:
        return f"[{identifier}]"

    @classmethod
    def create_schema(cls, schema: str) -> str:
        # CREATE SCHEMA must be alone in its batch, hence EXEC; QUOTENAME compares the quoted form,
        # which is what the placeholder becomes.
        return _if(
            f"NOT EXISTS (SELECT 1 FROM sys.schemas WHERE QUOTENAME(name) = N'{schema}')",
            f"EXEC sys.sp_executesql N'CREATE SCHEMA {schema}'",
        )

    @classmethod
    def create_table(cls, table_ref: str, columns: Sequence[Column]) -> str:
        return _if(
            f"OBJECT_ID(N'{table_ref}', N'U') IS NULL", f"CREATE TABLE {table_ref} {cls.table_definition(columns)}"
        )

    @classmethod
    def add_column(cls, table_ref: str, column: Column) -> str:
        return f"ALTER TABLE {table_ref} ADD {column.name} {cls.column_type(column)} NULL"

    @classmethod
    def literal(cls, column: Column, text: str) -> str:
        if text == NULL:
            # A VALUES column of NULLs alone is typed INT, which does not convert to DATE or DATETIME2.
            return f"CAST(NULL AS {cls.column_type(column)})" if column.type in ("timestamp", "date") else "NULL"
        if column.type == "bool":
            return "1" if text == "true" else "0"
        if column.type in ("int", "decimal"):
            return text
        escaped = text.replace("'", "''")
        return f"'{escaped}'" if column.type in ("timestamp", "date") else f"N'{escaped}'"

    @classmethod
    def insert_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        return f"INSERT INTO {table_ref} ({', '.join(table.column_names)}) VALUES\n{cls.values_rows(table, lines)}"

    @classmethod
    def _merge(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        return (
            f"MERGE INTO {table_ref} WITH (HOLDLOCK) AS t\nUSING (VALUES\n{cls.values_rows(table, lines)}\n) "
            f"AS s ({', '.join(table.column_names)})\nON t.{table.key} = s.{table.key}\n"
        )

    @classmethod
    def load_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        """An upsert, as the original loads Azure SQL: a retried load never duplicates a key."""
        columns = ", ".join(table.column_names)
        assignments = ", ".join(f"{c.name} = s.{c.name}" for c in table.columns[1:])
        return (
            f"{cls._merge(table_ref, table, lines)}WHEN MATCHED THEN UPDATE SET {assignments}\n"
            f"WHEN NOT MATCHED BY TARGET THEN INSERT ({columns}) VALUES ({', '.join(f's.{c}' for c in table.column_names)})"
        )

    @classmethod
    def update_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        assignments = ", ".join(f"{c.name} = s.{c.name}" for c in cls.updatable(table))
        return f"{cls._merge(table_ref, table, lines)}WHEN MATCHED THEN UPDATE SET {assignments}"

    def cdc_statements(self, mode: str, shop: str, crm: str, tables: Sequence[Table]) -> list[Statement]:
        refs = [(shop if t.role == "shop" else crm, t.name) for t in tables]
        if mode == "change_tracking":
            # Works on every edition and on Azure SQL Database; ALTER DATABASE cannot run in a transaction.
            out = [
                Statement(
                    _if(
                        "NOT EXISTS (SELECT 1 FROM sys.change_tracking_databases WHERE database_id = DB_ID())",
                        "ALTER DATABASE CURRENT SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 7 DAYS, AUTO_CLEANUP = ON)",
                    ),
                    Step("cdc", "database"),
                )
            ]
            out += [
                Statement(
                    _if(
                        "NOT EXISTS (SELECT 1 FROM sys.change_tracking_tables "
                        f"WHERE object_id = OBJECT_ID(N'{self.quote(s)}.{self.quote(t)}'))",
                        f"ALTER TABLE {self.quote(s)}.{self.quote(t)} ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)",
                    ),
                    Step("cdc", t),
                )
                for s, t in refs
            ]
            return out
        # Change data capture: sysadmin to enable the database, SQL Server Agent (or Azure's scheduler) to capture.
        out = [
            Statement(
                _if(
                    "NOT EXISTS (SELECT 1 FROM sys.databases WHERE database_id = DB_ID() AND is_cdc_enabled = 1)",
                    "EXEC sys.sp_cdc_enable_db",
                ),
                Step("cdc", "database"),
            )
        ]
        out += [
            Statement(
                _if(
                    f"NOT EXISTS (SELECT 1 FROM sys.tables WHERE object_id = OBJECT_ID(N'{self.quote(s)}.{self.quote(t)}') "
                    "AND is_tracked_by_cdc = 1)",
                    f"EXEC sys.sp_cdc_enable_table @source_schema = N'{s}', @source_name = N'{t}', @role_name = NULL, "
                    "@supports_net_changes = 1",
                ),
                Step("cdc", t),
            )
            for s, t in refs
        ]
        return out

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        if mode == "change_tracking":
            return [
                "Read changes with CHANGETABLE(CHANGES <table>, <last version>) and CHANGE_TRACKING_CURRENT_VERSION()."
            ]
        return [
            "Read changes with cdc.fn_cdc_get_all_changes_<schema>_<table>; capture needs SQL Server Agent running."
        ]
