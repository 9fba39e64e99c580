"""PostgreSQL: typed multi-row ``VALUES``, transactional DDL, change capture through a publication."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal

from airflow_source_simulator.core.statements import Action, Rows, Statement, Step
from airflow_source_simulator.dialects.base import Dialect
from airflow_source_simulator.schema import SchemaRole, Table

PUBLICATION_PREFIX = "source_simulator_"
LOCK_PREFIX = "airflow_source_simulator:"
STAGING_TABLE = "source_simulator_rows"
CopyFormat = Literal["binary", "csv"]


def publication_name(shop_schema: str) -> str:
    """One publication per simulated source, named after its shop schema (at most 63 bytes, like every name)."""
    return (PUBLICATION_PREFIX + shop_schema)[:63]


class PostgresDialect(Dialect):
    name = "postgres"
    title = "PostgreSQL"
    types: ClassVar[dict[str, str]] = {**Dialect.types, "decimal": "NUMERIC(10,2)"}
    max_rows_per_statement = 5_000
    cdc_modes = ("publication",)

    def update_rows(self, table_ref: str, table: Table, lines: Sequence[str]) -> str:
        # A VALUES list outside INSERT types an all-NULL column as text: cast every assignment.
        return (
            f"UPDATE {table_ref} AS t SET {self.assignments(self.updatable(table), 'v', cast=True)}\n"
            f"FROM (VALUES\n{self.values_rows(table, lines)}\n) AS v ({', '.join(table.column_names)})\n"
            f"WHERE t.{table.key} = v.{table.key}"
        )

    # --- bulk: COPY, and updates staged in a temporary table ---------------------------------
    def copy_rows(self, rows: Rows, form: CopyFormat = "binary") -> list[str]:
        """The statements that apply ``rows``; the one holding ``FROM STDIN`` reads them in ``form``."""
        names = ", ".join(rows.table.column_names)
        if rows.action not in (Action.UPDATE, Action.TOUCH):
            return [f"COPY {rows.ref} ({names}) FROM STDIN (FORMAT {form})"]
        # COPY cannot update: stage the rows in a temporary table, then update from it.
        key = rows.table.key
        return [
            f"CREATE TEMPORARY TABLE {STAGING_TABLE} (LIKE {rows.ref})",
            f"COPY {STAGING_TABLE} ({names}) FROM STDIN (FORMAT {form})",
            f"UPDATE {rows.ref} AS t SET {self.assignments(self.updatable(rows.table), 'v')} "
            f"FROM {STAGING_TABLE} AS v WHERE t.{key} = v.{key}",
            f"DROP TABLE {STAGING_TABLE}",
        ]

    @staticmethod
    def column_types_query(table_ref: str) -> str:
        """Each column's name and type (as ``regtype`` names it) of the table ``table_ref``."""
        return (
            "SELECT attname, atttypid::regtype::text FROM pg_attribute "
            f"WHERE attrelid = '{table_ref}'::regclass AND attnum > 0 AND NOT attisdropped"
        )

    @staticmethod
    def primary_key_query(table_ref: str) -> str:
        """The name and definition of the table's primary key, where its replica identity is the default (the
        primary key): a table whose replica identity names an index keeps that index."""
        return (
            "SELECT con.conname, pg_get_constraintdef(con.oid) FROM pg_constraint con "
            "JOIN pg_class c ON c.oid = con.conrelid "
            f"WHERE con.conrelid = '{table_ref}'::regclass AND con.contype = 'p' AND c.relreplident = 'd'"
        )

    def drop_constraint(self, table_ref: str, name: str) -> str:
        return f"ALTER TABLE {table_ref} DROP CONSTRAINT {self.quote(name)}"

    def add_constraint(self, table_ref: str, name: str, definition: str) -> str:
        return f"ALTER TABLE {table_ref} ADD CONSTRAINT {self.quote(name)} {definition}"

    # --- one writer per source: a session-level advisory lock ---------------------------------
    @staticmethod
    def lock_key(name: str) -> str:
        """The advisory lock (a bigint) of the source whose ledger is in schema ``name`` (a plain identifier)."""
        return f"hashtextextended('{LOCK_PREFIX}{name}', 0)"

    def lock_holders_query(self, key: str) -> str:
        """The PostgreSQL server processes (pg_stat_activity.pid) holding the advisory lock ``key``."""
        return (
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            f"AND ((classid::bigint << 32) | objid::bigint) = {key}"
        )

    def table_lock_holders_query(self, schemas: Sequence[str]) -> str:
        """The other sessions holding locks on tables in ``schemas``: pid, user, application, state, the tables
        (comma-separated) and the start of their last query."""
        names = ", ".join(f"'{s}'" for s in schemas)
        return (
            "SELECT a.pid, a.usename, a.application_name, a.state, "
            "string_agg(DISTINCT n.nspname || '.' || c.relname, ', '), left(a.query, 80) "
            "FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            f"WHERE l.granted AND n.nspname IN ({names}) AND l.pid <> pg_backend_pid() "
            "GROUP BY a.pid, a.usename, a.application_name, a.state, a.query ORDER BY a.pid"
        )

    # --- change capture -----------------------------------------------------------------------
    def cdc_statements(self, mode: str, schemas: Mapping[SchemaRole, str], tables: Sequence[Table]) -> list[Statement]:
        name = publication_name(schemas["shop"])
        refs = ", ".join(f"{self.quote(schemas[t.role])}.{t.name}" for t in tables)
        # CREATE PUBLICATION has no IF NOT EXISTS; the ledger is left out: it is not source data.
        sql = (
            "DO $$ BEGIN\n"
            f"  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = '{name}') THEN\n"
            f"    CREATE PUBLICATION {self.quote(name)} FOR TABLE {refs};\n"
            "  END IF;\n"
            "END $$"
        )
        return [Statement(sql, Step(Action.CDC, f"publication {name}"))]

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        return [f"Logical-replication tools subscribe to publication {publication_name(shop)!r} (plugin pgoutput)."]


POSTGRES = PostgresDialect()
