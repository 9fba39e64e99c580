"""Databricks (Unity Catalog, Delta): no multi-statement transactions, so every statement is idempotent.

A day's changes of a table travel as one MERGE keyed on the primary key (its inserts, updates and hard deletes
together: one Delta commit, one version in the change data feed); re-running it changes nothing, so a retried
operation completes a half-applied one without duplicates, and the ledger is written last. A state's rows go
into emptied tables as plain INSERTs: every plan that loads a state empties the tables first, so a retried load
empties them again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from airflow_source_simulator.core.statements import Action, Rows, Statement, Step
from airflow_source_simulator.data.canonical import NULL, SEPARATOR, canonical_rows
from airflow_source_simulator.dialects.base import Dialect
from airflow_source_simulator.schema import Column, SchemaRole, Table

CDF_PROPERTY = "delta.enableChangeDataFeed = true"
# Column mapping lets a reset drop the column the cdc profile adds (Delta refuses DROP COLUMN without it).
COLUMN_MAPPING = "'delta.columnMapping.mode' = 'name', 'delta.minReaderVersion' = '2', 'delta.minWriterVersion' = '5'"
# The column of a change MERGE's source naming what each row does (none of the simulator's tables has it).
KIND = "simulator_change"
KINDS = {Action.INSERT: "insert", Action.UPDATE: "update", Action.DELETE: "delete"}


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

    def _source(self, table: Table, lines: Sequence[str], kinds: Sequence[str] = ()) -> str:
        """The rows as a MERGE source aliased ``s``, each row's kind of change in column KIND if ``kinds``."""
        # Cast every column: a VALUES column of NULLs alone has type VOID.
        casts = ", ".join(f"CAST({c.name} AS {self.column_type(c)}) AS {c.name}" for c in table.columns)
        values = self.values_rows(table, lines, [f"'{kind}'" for kind in kinds])
        names = ", ".join(table.column_names)
        if kinds:
            casts, names = f"{casts}, {KIND}", f"{names}, {KIND}"
        return f"(SELECT {casts}\nFROM VALUES\n{values}\nAS v({names})) AS s"

    def insert_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        return self.merge(table_ref, table, self._source(table, lines), self.when_not_matched_insert(table))

    def load_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        # Into emptied tables (see the module's docstring): an INSERT writes them without MERGE's join.
        return f"INSERT INTO {table_ref} ({', '.join(table.column_names)})\nSELECT * FROM {self._source(table, lines)}"

    def change_statements(self, changes: Sequence[Rows]) -> list[Statement]:
        """A table's touched rows first (the first of two saves: a commit of its own), then its inserts, updates
        and hard deletes in one MERGE per ``max_rows_per_statement`` rows."""
        touched = [r for r in changes if r.action == Action.TOUCH]
        rest = [r for r in changes if r.action != Action.TOUCH]
        keys = [int(k) for r in rest for k in r.columns[r.table.key]]
        if len(rest) < 2 or len(set(keys)) < len(keys):
            # One kind of change is one statement already; a key changed twice could not be matched once.
            return super().change_statements(changes)
        out = super().change_statements(touched)
        table, ref = rest[0].table, rest[0].ref
        gap = SEPARATOR.join([NULL] * (len(table.columns) - 1))
        labelled: list[tuple[Rows, str]] = []
        for rows in rest:
            lines = (
                [f"{k}{SEPARATOR}{gap}" for k in rows.columns[table.key]]  # a deleted row: its key alone
                if rows.action == Action.DELETE
                else canonical_rows(table, rows.columns)
            )
            labelled += [(rows, line) for line in lines]
        size = self.max_rows_per_statement
        done: dict[Action, int] = {}
        for start in range(0, len(labelled), size):
            chunk = labelled[start : start + size]
            steps = []
            for rows in rest:
                here = sum(r is rows for r, _ in chunk)
                if here:
                    done[rows.action] = done.get(rows.action, 0) + here
                    spans = here < len(rows)  # the kind's rows take several statements: report rows so far
                    so_far = done[rows.action] if spans else None
                    steps.append(Step(rows.action, table.name, len(rows), rows.soft_deleted, so_far))
            source = self._source(table, [line for _, line in chunk], [KINDS[r.action] for r, _ in chunk])
            out.append(Statement(self._change_merge(ref, table, source), steps[0], tuple(steps[1:])))
        return out

    def _change_merge(self, table_ref: str, table: Table, source: str) -> str:
        # Conditions on every clause: re-run, an inserted row is matched and left alone, a deleted one is not
        # matched and not inserted again.
        return self.merge(
            table_ref,
            table,
            source,
            f"WHEN MATCHED AND s.{KIND} = 'delete' THEN DELETE",
            f"WHEN MATCHED AND s.{KIND} = 'update' THEN UPDATE SET {self.assignments(self.updatable(table), 's')}",
            self.when_not_matched_insert(table, f"WHEN NOT MATCHED AND s.{KIND} = 'insert'"),
        )

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
