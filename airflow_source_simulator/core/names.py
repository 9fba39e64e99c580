"""Validation of the names users pass in: nothing reaches SQL unless it is a plain identifier."""

from __future__ import annotations

import re

from airflow_source_simulator.errors import ArgumentError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

# Words reserved by the SQL of a supported engine. The simulator quotes every name, so its own SQL would
# work, but every reader of the source (ingestion tools, dbt, people at a SQL prompt) would have to quote
# the schema too, and many do not. PostgreSQL's reserved and type/function-name keywords
# (pg_get_keywords(), catcode R and T) and DuckDB's reserved keywords (duckdb_keywords()) are here in
# full, which a test checks against both engines; the rest are statement keywords that SQL Server and
# Databricks reserve.
_RESERVED_WORDS_TEXT = """
    add all alter analyse analyze and any array as asc asymmetric authorization backup begin between binary
    both break browse bulk by cascade case cast check checkpoint close clustered coalesce collate collation
    column commit compute concurrently constraint contains continue convert create cross current
    current_catalog current_date current_role current_schema current_time current_timestamp current_user
    cursor database deallocate declare default deferrable delete deny desc describe distinct do drop else
    end escape except exec execute exists exit false fetch for foreign freeze from full function goto grant
    group having if ilike in index initially inner insert intersect into is isnull join key kill lambda
    lateral leading left like limit localtime localtimestamp merge national natural nocheck not notnull null
    nullif of off offset on only open option or order outer over overlaps percent pivot pivot_longer
    pivot_wider placing primary print proc procedure qualify raiserror read references restore restrict
    return returning revert revoke right rollback rowcount rule save schema select session_user set show
    similar some summarize symmetric system_user table tablesample then to top trailing tran transaction
    trigger true truncate union unique unpivot update use user using values variadic verbose view waitfor
    when where while window with
"""
RESERVED_WORDS = frozenset(_RESERVED_WORDS_TEXT.split())


def validate_schema_name(value: object, parameter: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ArgumentError(
            f"{parameter}={value!r} is not a plain identifier: use 1-63 ASCII letters, digits and "
            "underscores, starting with a letter or underscore (for example 'jaffle_shop')."
        )
    if value.lower() in RESERVED_WORDS:
        raise ArgumentError(
            f"{parameter}={value!r} is a reserved word in SQL, so every query of the source would have to quote "
            f"it: choose another name (for example '{value.lower()}_data')."
        )
    return value
