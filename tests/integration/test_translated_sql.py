"""The SQL of the engines that cannot run here (SQL Server / Azure SQL, Databricks), translated to DuckDB by
sqlglot and executed there, so its rows, casts and MERGE logic are checked against the manifest's digests: a
wrong value in the T-SQL or Databricks files fails here, not on a customer's server."""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import duckdb
import pytest
import sqlglot

from airflow_source_simulator import packaged
from airflow_source_simulator.core.plans import Source
from airflow_source_simulator.core.statements import Stream, packaged_statements
from airflow_source_simulator.core.states import expected_tables
from airflow_source_simulator.data.canonical import digest, format_fetched_rows
from airflow_source_simulator.dialects import DIALECTS_BY_NAME as BY_NAME
from airflow_source_simulator.dialects.databricks import DatabricksDialect
from airflow_source_simulator.readback import counts, simulator_rows
from airflow_source_simulator.schema import TABLES, tables_at
from airflow_source_simulator.simulator import Simulator
from tests.support.sql import parsed, with_default_schemas


def _duckdb_with_tables() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for statement in packaged_statements("duckdb", "schema.sql"):
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


def digests_of(simulator: Simulator, day: int) -> dict[str, str]:
    """Each table's digest as the simulator reads it back (the tables' shape at ``day``)."""
    tables = tables_at(simulator.profile, day)
    found = counts(simulator.session, simulator.source, tables)
    return {
        t.name: simulator_rows(simulator.session, simulator.source, t, found[t.name].highest)["digest"] for t in tables
    }


@pytest.mark.parametrize("platform_name", ["mssql", "databricks"])
def test_translated_data_statements_reach_every_manifest_state(platform_name: str) -> None:
    con = _duckdb_with_tables()
    _execute_translated(con, platform_name, "baseline.sql")
    assert _digests(con) == _manifest_digests(0)
    for day in (1, 2, 3):
        _execute_translated(con, platform_name, f"day_{day:02d}.sql")
        assert _digests(con) == _manifest_digests(day), f"{platform_name} day {day}"


@pytest.mark.parametrize("stopped_after", [1, 3, -1])
def test_a_databricks_day_stopped_part_way_completes_when_run_again(stopped_after: int) -> None:
    """What a retry does on a platform without transactions: the whole day again, over a partial one (stopped
    after its first statement, its third, all but its last)."""
    con = _duckdb_with_tables()
    _execute_translated(con, "databricks", "baseline.sql")
    _execute_translated(con, "databricks", "day_01.sql")
    _execute_translated(con, "databricks", "day_02.sql", limit=stopped_after)
    assert _digests(con) != _manifest_digests(2)
    _execute_translated(con, "databricks", "day_02.sql")
    assert _digests(con) == _manifest_digests(2)
    _execute_translated(con, "databricks", "day_02.sql")
    assert _digests(con) == _manifest_digests(2)


@pytest.mark.parametrize("rows_per_statement", [1000, 40])
def test_a_generated_databricks_day_is_one_merge_per_table_and_reaches_the_days_state(
    make_simulator: Any, monkeypatch: pytest.MonkeyPatch, rows_per_statement: int
) -> None:
    """Day 2 of the cdc profile on Databricks, translated to DuckDB over day 1: a table's inserts, updates and hard
    deletes in one MERGE (web_sessions inserts 50 rows and deletes 4), the first of two saves a commit before it
    (customers), the rows split into statements of at most ``max_rows_per_statement``; run again, it changes
    nothing."""
    monkeypatch.setattr(DatabricksDialect, "max_rows_per_statement", rows_per_statement)
    simulator = make_simulator(profile="cdc")
    simulator.apply_delta(1, fast_forward=True)
    source = Source(BY_NAME["databricks"], simulator.schemas, 1, simulator.source.profile)
    rows = [r for w in source.delta_work(2) if isinstance(w, Stream) for r in w.chunks()]
    statements = BY_NAME["databricks"].statements(rows)
    change = packaged.changes()["cdc"]["2"]["tables"]
    per_table = Counter(s.step.target for s in statements)
    for name, kinds in change.items():
        written = len(kinds["inserted"]) + len(kinds["updated"]) + len(kinds["hard_deleted"])
        merges = -(-written // rows_per_statement)  # statements of at most rows_per_statement rows
        touches = -(-len(kinds["updated_twice"]) // rows_per_statement)
        assert per_table[name] == merges + touches, name
    web = [s for s in statements if s.step.target == "web_sessions"]
    assert {str(step.action) for s in web for step in s.steps} == {"insert", "delete"}
    reported = {(str(step.action), step.target): step for s in statements for step in s.steps if step.finished}
    assert reported["delete", "web_sessions"].rows == len(change["web_sessions"]["hard_deleted"]) == 4
    assert reported["update", "orders"].rows == len(change["orders"]["updated"])
    expected = {name: figures["digest"] for name, figures in expected_tables(2, 1, "cdc").items()}
    for _ in range(2):
        con = simulator.session.hook.get_conn()
        try:
            for statement in statements:
                con.execute(sqlglot.transpile(statement.sql, read="databricks", write="duckdb")[0])
        finally:
            con.close()
        assert digests_of(simulator, 2) == expected
