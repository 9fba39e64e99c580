"""Databricks (Unity Catalog, Delta): no multi-statement transactions, so every statement is idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_source_simulator.data.canonical import NULL
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.platforms.base import Platform
from airflow_source_simulator.schema import Column, Table
from airflow_source_simulator.statements import Statement, Step

if TYPE_CHECKING:
    from airflow.sdk import Connection

# The SQL connector retries an unreachable workspace for 15 minutes by default; these bound it to
# seconds. A connection's extra may set its own values (e.g. for a warehouse that has to cold-start).
RETRY_BOUNDS: dict[str, Any] = {
    "_retry_stop_after_attempts_count": 2,
    "_retry_stop_after_attempts_duration": 15.0,
    "_retry_delay_max": 5.0,
    "_socket_timeout": 60,
}
# TIMESTAMP is read and written in the session's time zone: pin it, so digests match every engine.
SESSION_CONFIGURATION = {"spark.sql.session.timeZone": "UTC"}
CDF_PROPERTY = "delta.enableChangeDataFeed = true"
# Column mapping lets a reset drop the column the cdc profile adds (Delta refuses DROP COLUMN without it).
COLUMN_MAPPING = "'delta.columnMapping.mode' = 'name', 'delta.minReaderVersion' = '2', 'delta.minWriterVersion' = '5'"


class DatabricksPlatform(Platform):
    """Rows travel as MERGE statements keyed on the primary key: re-running one changes nothing, so a
    retried operation completes a half-applied one without duplicates, and the ledger is written last."""

    name = "databricks"
    title = "Databricks"
    conn_types = ("databricks",)
    types: ClassVar[dict[str, str]] = {
        "int": "INT",
        "decimal": "DECIMAL(10,2)",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "bool": "BOOLEAN",
    }
    varchar_type = "STRING"
    max_rows_per_statement = 1000
    transactional = False
    current_catalog_sql = "current_catalog()"
    cdc_modes = ("change_data_feed",)
    connect_hint = (
        ". Check the connection's host, token and http_path; for a SQL warehouse that must start first, raise "
        "_retry_stop_after_attempts_duration (seconds) in the connection extra."
    )

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> DatabricksPlatform:
        # conn_type "databricks" resolves to the REST DatabricksHook: build the SQL hook directly.
        from airflow.providers.databricks.hooks.databricks_sql import DatabricksSqlHook

        extra = connection.extra_dejson
        if not connection.host:
            raise SimulatorError(f"Databricks connection {conn_id!r} has no host: set it to the workspace host name.")
        if not (extra.get("http_path") or extra.get("sql_endpoint_name")):
            raise SimulatorError(
                f"Databricks connection {conn_id!r} names no SQL warehouse: set extra http_path (for example "
                '"/sql/1.0/warehouses/<id>") or sql_endpoint_name.'
            )
        retries = {key: value for key, value in RETRY_BOUNDS.items() if key not in extra}
        return cls(
            DatabricksSqlHook(
                databricks_conn_id=conn_id,
                http_path=extra.get("http_path"),
                sql_endpoint_name=extra.get("sql_endpoint_name"),
                catalog=extra.get("catalog"),
                session_configuration={**SESSION_CONFIGURATION, **extra.get("session_configuration", {})},
                **retries,
            )
        )

    @classmethod
    def quote(cls, identifier: str) -> str:
        return f"`{identifier}`"

    @classmethod
    def fold(cls, identifier: str) -> str:
        return identifier.lower()

    @classmethod
    def create_table(cls, table_ref: str, columns: Sequence[Column]) -> str:
        # Primary keys are informational in Unity Catalog and need schema-unique names: MERGE on the
        # key is what keeps it unique here.
        return (
            f"CREATE TABLE IF NOT EXISTS {table_ref} {cls.table_definition(columns, primary_key=False)}\n"
            f"USING DELTA TBLPROPERTIES ({CDF_PROPERTY}, {COLUMN_MAPPING})"
        )

    @classmethod
    def literal(cls, column: Column, text: str) -> str:
        if text == NULL or column.type in ("int", "decimal", "bool"):
            return super().literal(column, text)
        escaped = text.replace("\\", "\\\\").replace("'", "\\'")
        return f"{column.type.upper()} '{escaped}'" if column.type in ("timestamp", "date") else f"'{escaped}'"

    @classmethod
    def _source(cls, table: Table, lines: Sequence[str]) -> str:
        # Cast every column: a VALUES column of NULLs alone has type VOID.
        casts = ", ".join(f"CAST({c.name} AS {cls.column_type(c)}) AS {c.name}" for c in table.columns)
        return (
            f"(SELECT {casts}\nFROM VALUES\n{cls.values_rows(table, lines)}\n"
            f"AS v({', '.join(table.column_names)})) AS s"
        )

    @classmethod
    def insert_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        columns = ", ".join(table.column_names)
        return (
            f"MERGE INTO {table_ref} AS t\nUSING {cls._source(table, lines)}\nON t.{table.key} = s.{table.key}\n"
            f"WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({', '.join(f's.{c}' for c in table.column_names)})"
        )

    @classmethod
    def update_rows(cls, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        assignments = ", ".join(f"{c.name} = s.{c.name}" for c in cls.updatable(table))
        return (
            f"MERGE INTO {table_ref} AS t\nUSING {cls._source(table, lines)}\nON t.{table.key} = s.{table.key}\n"
            f"WHEN MATCHED THEN UPDATE SET {assignments}"
        )

    def cdc_statements(self, mode: str, shop: str, crm: str, tables: Sequence[Table]) -> list[Statement]:
        # New tables are created with the change data feed on; this covers tables taken over with force.
        return [
            Statement(
                f"ALTER TABLE {self.quote(shop if t.role == 'shop' else crm)}.{t.name} SET TBLPROPERTIES ({CDF_PROPERTY})",
                Step("cdc", t.name),
            )
            for t in tables
        ]

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        return ["Read changes with table_changes('<schema>.<table>', <version>) or readChangeFeed in Spark."]
