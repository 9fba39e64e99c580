"""The SQL of the platforms that cannot run here (SQL Server / Azure SQL, Databricks), and of every other.

Every packaged statement must parse in its platform's sqlglot dialect. Beyond parsing, the data
statements are translated to DuckDB by sqlglot and executed there, so their rows, casts and MERGE
logic are checked against the manifest's digests: a wrong value in the T-SQL or Databricks files
fails here, not on a customer's server.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import duckdb
import pytest
import sqlglot
from airflow.providers.common.sql.hooks.sql import DbApiHook
from sqlglot import exp

from airflow_source_simulator import packaged
from airflow_source_simulator.core.statements import Action, Statement, Step
from airflow_source_simulator.data.canonical import digest, format_fetched_rows
from airflow_source_simulator.dialects import DIALECTS_BY_NAME as BY_NAME
from airflow_source_simulator.dialects import Dialect
from airflow_source_simulator.dialects.databricks import DATABRICKS
from airflow_source_simulator.dialects.mssql import MSSQL
from airflow_source_simulator.schema import LEDGER, TABLES, SchemaRole, Table
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.sessions.mssql import MsSqlSession

DIALECTS = {"duckdb": "duckdb", "postgres": "postgres", "mssql": "tsql", "databricks": "databricks"}
FILES = ("schema.sql", "truncate.sql", "baseline.sql", "day_01.sql", "day_02.sql", "day_03.sql")
PLATFORM_NAMES = list(BY_NAME)


def with_default_schemas(platform: Dialect, statement: Statement) -> str:
    return statement.with_schemas(platform.quote("jaffle_shop"), platform.quote("jaffle_crm")).sql


@functools.cache
def parsed(platform_name: str, file: str) -> tuple[tuple[Statement, Any], ...]:
    platform = BY_NAME[platform_name]
    return tuple(
        (s, sqlglot.parse_one(with_default_schemas(platform, s), read=DIALECTS[platform_name]))
        for s in packaged.statements(platform_name, file)
    )


def test_every_platform_has_every_file() -> None:
    assert set(DIALECTS) == set(PLATFORM_NAMES)
    for name in PLATFORM_NAMES:
        for file in FILES:
            assert packaged.statements(name, file), f"{name}/{file} is empty"


@pytest.mark.parametrize("platform_name", PLATFORM_NAMES)
def test_every_packaged_statement_parses_in_its_dialect(platform_name: str) -> None:
    for file in FILES:
        for statement, tree in parsed(platform_name, file):
            # sqlglot falls back to an opaque Command for syntax it does not know: that is not a parse.
            assert tree.find(exp.Command) is None, f"{platform_name}/{file}: {statement.sql[:80]}"


@pytest.mark.parametrize("platform_name", PLATFORM_NAMES)
def test_runtime_statements_parse_in_their_dialect(platform_name: str) -> None:
    """The ledger row and the change-capture statements are built at run time, not packaged."""
    from airflow_source_simulator.core.ledger import LedgerEntry, record

    dialect = BY_NAME[platform_name]
    entry = LedgerEntry(1, "load_baseline", 0, 1, "classic", "1.0.0", 1, "0" * 64)
    schemas: dict[SchemaRole, str] = {"shop": "jaffle_shop", "crm": "jaffle_crm"}
    statements = [record(dialect, f"{dialect.quote('jaffle_shop')}.{LEDGER.name}", entry, schemas)]
    for mode in dialect.cdc_modes:
        statements += dialect.cdc_statements(mode, schemas, TABLES)
    for statement in statements:
        sqlglot.parse_one(statement.sql, read=DIALECTS[platform_name])


def _values_rows(tree: exp.Expression) -> list[int]:
    return [len(values.expressions) for values in tree.find_all(exp.Values)]


def test_sql_server_statements_carry_at_most_1000_rows_each() -> None:
    sizes = [n for file in FILES for _, tree in parsed("mssql", file) for n in _values_rows(tree)]
    assert max(sizes) == 1000, "order_items' 1,200 baseline rows must be split 1000 + 200"
    steps = [s.step for s, _ in parsed("mssql", "baseline.sql") if s.step.target == "order_items"]
    assert [(s.rows, s.done) for s in steps] == [(1200, 1000), (1200, 1200)]


def test_the_sql_server_baseline_is_loaded_with_merge() -> None:
    kinds = {type(tree).__name__ for _, tree in parsed("mssql", "baseline.sql")}
    assert kinds == {"Merge"}


def test_databricks_statements_are_idempotent() -> None:
    """No transactions on Databricks: each statement must be safe to run again."""
    for file in FILES:
        for statement, tree in parsed("databricks", file):
            if isinstance(tree, exp.Create):
                assert tree.args.get("exists"), f"{file}: {statement.sql[:60]} lacks IF NOT EXISTS"
                if tree.kind == "TABLE":
                    assert "delta.enableChangeDataFeed = true" in statement.sql
            else:
                assert isinstance(tree, (exp.Merge, exp.Delete)), f"{file}: {type(tree).__name__} is not idempotent"


def _duckdb_with_tables() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for statement in packaged.statements("duckdb", "schema.sql"):
        con.execute(with_default_schemas(BY_NAME["duckdb"], statement))
    return con


@functools.cache
def translated(platform_name: str, file: str) -> tuple[str, ...]:
    return tuple(tree.sql(dialect="duckdb") for _, tree in parsed(platform_name, file))


def _execute_translated(
    con: duckdb.DuckDBPyConnection, platform_name: str, file: str, limit: int | None = None
) -> None:
    for sql in translated(platform_name, file)[:limit]:
        con.execute(sql)


def _digests(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    out = {}
    for table in TABLES:
        schema = "jaffle_shop" if table.role == "shop" else "jaffle_crm"
        rows = con.execute(f"SELECT {', '.join(table.column_names)} FROM {schema}.{table.name} ORDER BY 1").fetchall()
        out[table.name] = digest(format_fetched_rows(table, rows))
    return out


def _manifest_digests(day: int) -> dict[str, str]:
    return {name: t["digest"] for name, t in packaged.manifest()["states"][str(day)]["tables"].items()}


@pytest.mark.parametrize("platform_name", ["mssql", "databricks"])
def test_translated_data_statements_reach_every_manifest_state(platform_name: str) -> None:
    con = _duckdb_with_tables()
    _execute_translated(con, platform_name, "baseline.sql")
    assert _digests(con) == _manifest_digests(0)
    for day in (1, 2, 3):
        _execute_translated(con, platform_name, f"day_{day:02d}.sql")
        assert _digests(con) == _manifest_digests(day), f"{platform_name} day {day}"


@pytest.mark.parametrize("stopped_after", [1, 4, 9])
def test_a_databricks_day_stopped_part_way_completes_when_run_again(stopped_after: int) -> None:
    """What a retry does on a platform without transactions: the whole day again, over a partial one."""
    con = _duckdb_with_tables()
    _execute_translated(con, "databricks", "baseline.sql")
    _execute_translated(con, "databricks", "day_01.sql")
    _execute_translated(con, "databricks", "day_02.sql", limit=stopped_after)
    assert _digests(con) != _manifest_digests(2)
    _execute_translated(con, "databricks", "day_02.sql")
    assert _digests(con) == _manifest_digests(2)
    _execute_translated(con, "databricks", "day_02.sql")
    assert _digests(con) == _manifest_digests(2)


def test_schema_names_substitute_inside_sql_server_guards() -> None:
    statement = packaged.statements("mssql", "schema.sql")[0]
    sql = statement.with_schemas(MSSQL.quote("erp"), MSSQL.quote("crm")).sql
    assert (
        sql
        == "IF NOT EXISTS (SELECT 1 FROM sys.schemas WHERE QUOTENAME(name) = N'[erp]')\nBEGIN\n    EXEC sys.sp_executesql N'CREATE SCHEMA [erp]'\nEND"
    )


def test_literals_follow_each_dialect() -> None:
    text, stamp = LEDGER.columns[1], next(c for c in TABLES[0].columns if c.name == "deleted_at")
    assert DATABRICKS.literal(text, "it's a\\b") == "'it\\'s a\\\\b'"
    assert MSSQL.literal(text, "it's") == "N'it''s'"
    assert MSSQL.literal(stamp, "\\N") == "CAST(NULL AS DATETIME2(0))"
    assert DATABRICKS.literal(stamp, "2024-04-01 10:00:00") == "TIMESTAMP '2024-04-01 10:00:00'"
    assert DATABRICKS.fold("Jaffle_Shop") == "jaffle_shop"


class RecordingHook(DbApiHook):
    """Records what the platform hands to ``DbApiHook.run``: a test of statement batching, not a database."""

    conn_name_attr = "recording_conn_id"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[list[str], bool]] = []

    def run(  # type: ignore[override]
        self, sql: Any, autocommit: bool = False, parameters: Any = None, handler: Any = None, **kw: Any
    ) -> Any:
        self.calls.append((list(sql), autocommit))
        for _ in sql:
            handler(None)
        return None


def _statements(table: Table) -> Sequence[Statement]:
    return [Statement("MERGE INTO x USING y ON 1 = 1 WHEN MATCHED THEN DELETE", Step(Action.UPDATE, table.name, 1))]


def test_sql_server_statements_are_terminated_and_change_capture_runs_outside_a_transaction() -> None:
    hook = RecordingHook()
    session = MsSqlSession(hook)
    steps: list[Step] = []
    session.run(_statements(TABLES[0]), steps.append)
    schemas: dict[SchemaRole, str] = {"shop": "s", "crm": "c"}
    session.run(MSSQL.cdc_statements("change_tracking", schemas, TABLES), steps.append, transaction=False)
    (merge, autocommit), (cdc, cdc_autocommit) = hook.calls
    assert merge == ["MERGE INTO x USING y ON 1 = 1 WHEN MATCHED THEN DELETE;"] and autocommit is False
    assert cdc[0].startswith("IF NOT EXISTS (SELECT 1 FROM sys.change_tracking_databases") and cdc_autocommit is True
    assert len(cdc) == 1 + len(TABLES) and len(steps) == 2 + len(TABLES)


def test_duckdb_wraps_an_operation_in_begin_and_commit_on_its_cursor() -> None:
    hook = RecordingHook()
    DuckDBSession(hook).run(_statements(TABLES[0]), lambda step: None)
    assert hook.calls[0][0][0] == "BEGIN TRANSACTION" and hook.calls[0][0][-1] == "COMMIT"
