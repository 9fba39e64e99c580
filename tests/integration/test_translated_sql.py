"""The SQL of the engines that cannot run here (SQL Server / Azure SQL, Databricks), translated to DuckDB by
sqlglot and executed there, so its rows, casts and MERGE logic are checked against the manifest's digests: a
wrong value in the T-SQL or Databricks files fails here, not on a customer's server."""

from __future__ import annotations

import functools

import duckdb
import pytest

from airflow_source_simulator import packaged
from airflow_source_simulator.core.statements import packaged_statements
from airflow_source_simulator.data.canonical import digest, format_fetched_rows
from airflow_source_simulator.dialects import DIALECTS_BY_NAME as BY_NAME
from airflow_source_simulator.schema import TABLES
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
