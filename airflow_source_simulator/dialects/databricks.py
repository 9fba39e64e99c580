"""Databricks (Unity Catalog, Delta): no multi-statement transactions, so every statement is idempotent.

Rows travel as MERGE statements keyed on the primary key: re-running one changes nothing, so a retried
operation completes a half-applied one without duplicates, and the ledger is written last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from airflow_source_simulator.core.statements import Action, Statement, Step
from airflow_source_simulator.data.canonical import NULL
from airflow_source_simulator.dialects.base import Dialect
from airflow_source_simulator.schema import Column, SchemaRole, Table

CDF_PROPERTY = "delta.enableChangeDataFeed = true"
# Column mapping lets a reset drop the column the cdc profile adds (Delta refuses DROP COLUMN without it).
COLUMN_MAPPING = "'delta.columnMapping.mode' = 'name', 'delta.minReaderVersion' = '2', 'delta.minWriterVersion' = '5'"


class DatabricksDialect(Dialect):
    name = "databricks"
    title = "Databricks"
    types: ClassVar[dict[str, str]] = {**Dialect.types, "int": "INT"}
    varchar_type = "STRING"
    max_rows_per_statement = 1000
    transactional = False
    current_catalog_sql = "current_catalog()"
    cdc_modes = ("change_data_feed",)

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def fold(self, identifier: str) -> str:
        return identifier.lower()

    def create_table(self, table_ref: str, columns: Sequence[Column]) -> str:
        # Primary keys are informational in Unity Catalog and need schema-unique names: MERGE on the
        # key is what keeps it unique here.
        return (
            f"CREATE TABLE IF NOT EXISTS {table_ref} {self.table_definition(columns, primary_key=False)}\n"
            f"USING DELTA TBLPROPERTIES ({CDF_PROPERTY}, {COLUMN_MAPPING})"
        )

    def literal(self, column: Column, text: str) -> str:
        if text == NULL or column.type in ("int", "decimal", "bool"):
            return super().literal(column, text)
        escaped = text.replace("\\", "\\\\").replace("'", "\\'")
        return f"{column.type.upper()} '{escaped}'" if column.type in ("timestamp", "date") else f"'{escaped}'"

    def _source(self, table: Table, lines: Sequence[str]) -> str:
        # Cast every column: a VALUES column of NULLs alone has type VOID.
        casts = ", ".join(f"CAST({c.name} AS {self.column_type(c)}) AS {c.name}" for c in table.columns)
        return (
            f"(SELECT {casts}\nFROM VALUES\n{self.values_rows(table, lines)}\n"
            f"AS v({', '.join(table.column_names)})) AS s"
        )

    def insert_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        return self.merge(table_ref, table, self._source(table, lines), self.when_not_matched_insert(table))

    def update_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        return self.merge(table_ref, table, self._source(table, lines), self.when_matched_update(self.updatable(table)))

    def cdc_statements(self, mode: str, schemas: Mapping[SchemaRole, str], tables: Sequence[Table]) -> list[Statement]:
        # New tables are created with the change data feed on; this covers tables taken over with force.
        return [
            Statement(
                f"ALTER TABLE {self.quote(schemas[t.role])}.{t.name} SET TBLPROPERTIES ({CDF_PROPERTY})",
                Step(Action.CDC, t.name),
            )
            for t in tables
        ]

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        return ["Read changes with table_changes('<schema>.<table>', <version>) or readChangeFeed in Spark."]


DATABRICKS = DatabricksDialect()
