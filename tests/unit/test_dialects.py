"""The SQL of each dialect, without a database: every packaged and run-time statement parses in its engine's
sqlglot dialect, SQL Server's batches and MERGE, Databricks' idempotence, literals, and what sessions hand to
``DbApiHook.run``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import sqlglot
from airflow.providers.common.sql.hooks.sql import DbApiHook
from sqlglot import exp

from airflow_source_simulator import packaged
from airflow_source_simulator.core.statements import Action, Statement, Step, packaged_statements
from airflow_source_simulator.dialects import DIALECTS as ENGINES
from airflow_source_simulator.dialects import DIALECTS_BY_NAME as BY_NAME
from airflow_source_simulator.dialects.databricks import DATABRICKS
from airflow_source_simulator.dialects.mssql import MSSQL
from airflow_source_simulator.schema import LEDGER, LOYALTY_TIER, TABLES, TABLES_BY_NAME, SchemaRole, Table
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.sessions.mssql import MsSqlSession
from tests.support.sql import SQLGLOT_DIALECTS, parsed

FILES = ("schema.sql", "truncate.sql", "baseline.sql", "day_01.sql", "day_02.sql", "day_03.sql")


PLATFORM_NAMES = list(BY_NAME)


def _values_rows(tree: exp.Expression) -> list[int]:
    return [len(values.expressions) for values in tree.find_all(exp.Values)]


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


def test_every_platform_has_every_file() -> None:
    assert set(SQLGLOT_DIALECTS) == set(PLATFORM_NAMES)
    for name in PLATFORM_NAMES:
        for file in FILES:
            assert packaged_statements(name, file), f"{name}/{file} is empty"


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
        sqlglot.parse_one(statement.sql, read=SQLGLOT_DIALECTS[platform_name])


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
            elif file == packaged.BASELINE_FILE:
                # A state's rows go into emptied tables: every plan that loads one empties them first
                # (tests/unit/test_plans.py), a retried one again, so a plain INSERT is safe to run again there.
                assert isinstance(tree, exp.Insert), f"{file}: {type(tree).__name__}"
            else:
                assert isinstance(tree, (exp.Merge, exp.Delete)), f"{file}: {type(tree).__name__} is not idempotent"


def test_a_databricks_day_changes_each_table_in_one_merge() -> None:
    """One statement per table and day: one Delta commit, one version of the table's change data feed."""
    for day in (1, 2, 3):
        statements = packaged_statements("databricks", packaged.day_file(day))
        tables = [{step.target for step in s.steps} for s in statements]
        assert all(len(t) == 1 for t in tables), f"day {day}: a statement writing several tables"
        written = [t.pop() for t in tables]
        assert len(written) == len(set(written)), f"day {day}: {written}"
        kinds = {str(step.action) for s in statements for step in s.steps}
        assert kinds == {"insert", "update"}, kinds  # the classic days insert and update (no hard deletes)
        assert any(len(s.steps) == 2 for s in statements)


def test_schema_names_substitute_inside_sql_server_guards() -> None:
    statement = packaged_statements("mssql", "schema.sql")[0]
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


@pytest.mark.parametrize("platform", ENGINES, ids=lambda p: p.name)
def test_schema_change_and_hard_delete_statements_parse_in_every_dialect(platform: Any) -> None:
    ref = f"{platform.quote('jaffle_shop')}.customers"
    customers = TABLES_BY_NAME["customers"]
    for sql in (
        platform.add_column(ref, LOYALTY_TIER),
        platform.drop_column(ref, LOYALTY_TIER),
        platform.delete_rows(ref, customers, [3, 5, 8]),
    ):
        tree = sqlglot.parse_one(sql, read=SQLGLOT_DIALECTS[platform.name])
        assert tree.find(sqlglot.exp.Command) is None, sql


@pytest.mark.parametrize(
    "name", ['customers"--', 'a" x', "a]b", "a`b", "Upper Case", "v2.customers", "Ünïcode", "it's"]
)
@pytest.mark.parametrize("engine", PLATFORM_NAMES)
def test_a_quoted_name_reads_back_as_exactly_that_name(engine: str, name: str) -> None:
    """A target's names come from its catalog and may hold anything, the engine's quote character included."""
    sql = f"SELECT {BY_NAME[engine].quote(name)} FROM {BY_NAME[engine].quote(name)}"
    tree = sqlglot.parse_one(sql, read=SQLGLOT_DIALECTS[engine])
    assert tree.find(exp.Table).name == name  # type: ignore[union-attr]
    assert tree.find(exp.Column).name == name  # type: ignore[union-attr]
