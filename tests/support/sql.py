"""The packaged SQL of each engine, parsed by sqlglot in the engine's own dialect."""

from __future__ import annotations

import functools
from typing import Any

import sqlglot

from airflow_source_simulator.core.statements import Statement, packaged_statements
from airflow_source_simulator.dialects import DIALECTS_BY_NAME, Dialect

# sqlglot's name for each engine's dialect.
SQLGLOT_DIALECTS = {"duckdb": "duckdb", "postgres": "postgres", "mssql": "tsql", "databricks": "databricks"}


def with_default_schemas(dialect: Dialect, statement: Statement) -> str:
    return statement.with_schemas(dialect.quote("jaffle_shop"), dialect.quote("jaffle_crm")).sql


@functools.cache
def parsed(platform_name: str, file: str) -> tuple[tuple[Statement, Any], ...]:
    """Each statement of a packaged file, with its sqlglot tree."""
    dialect = DIALECTS_BY_NAME[platform_name]
    return tuple(
        (s, sqlglot.parse_one(with_default_schemas(dialect, s), read=SQLGLOT_DIALECTS[platform_name]))
        for s in packaged_statements(platform_name, file)
    )
