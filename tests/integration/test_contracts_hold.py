"""The consumer contracts against loaded DuckDB databases: every rule and dbt test holds on the states a
contract describes, and fails where it should."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import pytest

from airflow_source_simulator import contracts
from airflow_source_simulator.schema import TABLES
from tests.support.contracts import CONTRACTS, STATES, dbt_sources, load_states, odcs


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return load_states(tmp_path_factory.mktemp("contracts"))


def catalog_type(physical_type: str) -> str:
    """How DuckDB's information_schema reports a declared type: it keeps no VARCHAR length."""
    return re.sub(r"^VARCHAR\(\d+\)$", "VARCHAR", physical_type)


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def contract_problems(con: duckdb.DuckDBPyConnection, doc: dict[str, Any]) -> list[str]:
    """What in the database breaks the ODCS document: columns, types, nullability, key, options, rules."""
    (server,) = [s for s in doc["servers"] if s["type"] == "duckdb"]
    (obj,) = doc["schema"]
    relation = f"{server['schema']}.{obj['physicalName']}"
    props = obj["properties"]
    problems = []
    found = con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [server["schema"], obj["physicalName"]],
    ).fetchall()
    expected = [(p["name"], catalog_type(p["physicalType"]), "NO" if p["required"] else "YES") for p in props]
    if found != expected:
        problems.append(f"{relation} columns {found} are not the contract's {expected}")
    (primary_key,) = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE schema_name = ? AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [server["schema"], obj["physicalName"]],
    ).fetchall()[0]
    declared_key = [
        p["name"] for p in sorted(props, key=lambda p: p.get("primaryKeyPosition", 0)) if p.get("primaryKey")
    ]
    if list(primary_key) != declared_key:
        problems.append(f"{relation} primary key {primary_key} is not the contract's {declared_key}")

    present = {name for name, _, _ in found}
    checks: dict[str, str] = {}
    for prop in (p for p in props if p["name"] in present):
        column, options = prop["name"], prop.get("logicalTypeOptions", {})
        if prop["required"]:
            checks[f"{column} required"] = f"SELECT count(*) FROM {relation} WHERE {column} IS NULL"
        if prop.get("unique"):
            checks[f"{column} unique"] = f"SELECT count(*) - count(DISTINCT {column}) FROM {relation}"
        if "maxLength" in options:
            checks[f"{column} maxLength"] = (
                f"SELECT count(*) FROM {relation} WHERE length({column}) > {options['maxLength']}"
            )
        if "minimum" in options:
            checks[f"{column} minimum"] = f"SELECT count(*) FROM {relation} WHERE {column} < {options['minimum']}"
        for rule in prop.get("quality", []):
            checks[f"{column} {rule['name']}"] = rule["query"].replace("${column}", column)
    for rule in obj["quality"]:
        checks[rule["name"]] = rule["query"]
    for name, sql in checks.items():
        violations = count(con, sql.replace("${table}", relation))
        if violations:
            problems.append(f"{relation} {name}: {violations} rows break it")
    return problems


def render_jinja(text: str, variables: dict[str, Any] | None = None) -> Any:
    """A dbt property as dbt renders it: var() from --vars, else its default; numbers as numbers."""
    given = variables or {}
    rendered = jinja2.Template(text).render(var=lambda name, default: given.get(name, default))
    return int(rendered) if rendered.isdigit() else rendered


def dbt_test_sql(test: str, relation: str, column: str) -> str:
    """The failing rows of dbt's built-in generic tests, counted as dbt's test macros select them."""
    if test == "not_null":
        return f"SELECT count(*) FROM {relation} WHERE {column} IS NULL"
    assert test == "unique", test
    return (
        f"SELECT count(*) FROM (SELECT {column} FROM {relation} WHERE {column} IS NOT NULL "
        f"GROUP BY {column} HAVING count(*) > 1)"
    )


@pytest.mark.parametrize("state", STATES)
def test_every_contract_holds_on_the_states_it_describes(databases: dict[str, Path], state: str) -> None:
    profile, day = STATES[state]
    described = [c for c in CONTRACTS if c.describes(profile, day)]
    assert sorted(c.table.name for c in described) == sorted(t.name for t in TABLES), "one contract per table"
    with duckdb.connect(str(databases[state]), read_only=True) as con:
        problems = {c.file_stem: contract_problems(con, odcs(c.file_stem)) for c in described}
    assert {stem: p for stem, p in problems.items() if p} == {}


@pytest.mark.parametrize("state", STATES)
def test_a_contract_fails_on_the_states_it_does_not_describe(databases: dict[str, Path], state: str) -> None:
    """The customers documents are exact: each one fails on the other's states, on the loyalty_tier column."""
    profile, day = STATES[state]
    others = [c for c in CONTRACTS if not c.describes(profile, day)]
    assert [c.table.name for c in others] == ["customers"]
    with duckdb.connect(str(databases[state]), read_only=True) as con:
        (problem,) = contract_problems(con, odcs(others[0].file_stem))
    assert "loyalty_tier" in problem and "columns" in problem


def test_a_broken_row_breaks_the_contract(databases: dict[str, Path]) -> None:
    """The checks can fail: a soft delete that is not the row's last change, and a status out of domain."""
    with duckdb.connect(str(databases["classic day 3"])) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "UPDATE jaffle_shop.orders SET status = 'lost', deleted_at = updated_at - INTERVAL 1 HOUR "
            "WHERE order_id = 1"
        )
        problems = contract_problems(con, odcs("orders"))
        con.execute("ROLLBACK")
    assert len(problems) == 2
    assert "status_in_domain: 1 rows" in problems[0] and "soft_delete_is_the_last_change: 1 rows" in problems[1]


def test_dbt_generic_test_sql_can_fail() -> None:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1), (1), (NULL)) v(k)")
        assert count(con, dbt_test_sql("unique", "t", "k")) == 1
        assert count(con, dbt_test_sql("not_null", "t", "k")) == 1


@pytest.mark.parametrize("state", STATES)
def test_every_dbt_data_test_passes_on_the_database(databases: dict[str, Path], state: str) -> None:
    ran, failures = 0, {}
    with duckdb.connect(str(databases[state]), read_only=True) as con:
        for source in dbt_sources()["sources"]:
            for table in source["tables"]:
                relation = f"{render_jinja(source['schema'])}.{table['name']}"
                for column in table["columns"]:
                    for test in column.get("data_tests", []):
                        ran += 1
                        failing = count(con, dbt_test_sql(test, relation, column["name"]))
                        if failing:
                            failures[f"{test}({relation}.{column['name']})"] = failing
    assert failures == {}
    # not_null on every column but deleted_at, and unique on each key: as many tests as columns.
    assert ran == sum(len(t.columns) for t in TABLES)


@pytest.mark.parametrize("state", STATES)
def test_each_fresh_tables_newest_update_lies_on_the_last_day(databases: dict[str, Path], state: str) -> None:
    _, day = STATES[state]
    day_start = f"TIMESTAMP '2024-04-01' + INTERVAL {day - 1} DAY"
    with duckdb.connect(str(databases[state]), read_only=True) as con:
        for table in TABLES:
            if table.name in contracts.NOT_CHANGED_DAILY:
                continue
            relation = f"{contracts.DEFAULT_SCHEMAS[table.role]}.{table.name}"
            on_the_day = count(
                con,
                f"SELECT max(updated_at) >= {day_start} AND max(updated_at) < {day_start} + INTERVAL 1 DAY "
                f"FROM {relation}",
            )
            assert on_the_day, f"{relation}'s newest updated_at is not on day {day}"
