"""The consumer contracts: rendered from the one schema, valid ODCS and dbt, and true of a real database.

The committed files under ``sql/contracts/`` are checked against a fresh rendering, then against DuckDB
databases loaded by the simulator: the classic profile at day 3, and the cdc profile at day 5, after its
schema change. Where datacontract-cli is installed in its own venv, it tests the same contracts too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import pytest
import yaml

from airflow_source_simulator import contracts, packaged
from airflow_source_simulator.data.scenario import CDC, CLASSIC, SCHEMA_CHANGE_DAY
from airflow_source_simulator.dialects.duckdb import DUCKDB
from airflow_source_simulator.render import CONTRACTS_FOLDER, DBT_SOURCES_FILE, ODCS_FOLDER, render_contracts
from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from airflow_source_simulator.version import __version__
from tests.conftest import REPO

SQL = REPO / "sql"
# The two states the contracts are checked at: the classic days, and the cdc profile once customers has
# gained its column.
STATES = {"classic day 3": (CLASSIC, 3), f"cdc day {SCHEMA_CHANGE_DAY}": (CDC, SCHEMA_CHANGE_DAY)}


@cache
def odcs(stem: str) -> dict[str, Any]:
    return yaml.safe_load((SQL / ODCS_FOLDER / f"{stem}.odcs.yaml").read_text(encoding="utf-8"))


@cache
def dbt_sources() -> dict[str, Any]:
    return yaml.safe_load((SQL / DBT_SOURCES_FILE).read_text(encoding="utf-8"))


CONTRACTS = contracts.contracts()
STEMS = [c.file_stem for c in CONTRACTS]


# --- (a) the committed files are a fresh rendering ---------------------------------------------------


def test_committed_contracts_equal_a_fresh_rendering(tmp_path: Path) -> None:
    written = render_contracts(tmp_path)
    rendered = {p.relative_to(tmp_path): p.read_text(encoding="utf-8") for p in written}
    committed = {
        p.relative_to(SQL): p.read_text(encoding="utf-8") for p in (SQL / CONTRACTS_FOLDER).rglob("*") if p.is_file()
    }
    assert set(committed) == set(rendered), "sql/contracts/ differs from the rendering: run `make render`"
    stale = sorted(str(path) for path, text in rendered.items() if committed[path] != text)
    assert not stale, f"stale contracts, run `make render`: {stale}"
    assert len(rendered) == len(TABLES) + 1 + 1, "one ODCS document per table, one for cdc customers, and dbt"


def test_rendering_is_deterministic_and_carries_the_package_version() -> None:
    assert contracts.odcs_contracts(__version__) == contracts.odcs_contracts(__version__)
    assert contracts.dbt_sources_yaml(__version__) == contracts.dbt_sources_yaml(__version__)
    assert "+unknown" not in __version__
    assert all(odcs(stem)["version"] == __version__ for stem in STEMS)
    with pytest.raises(RuntimeError, match="install the project"):
        render_contracts(Path("/nonexistent"), version="0.0.0+unknown")


def test_the_packaged_loaders_read_the_committed_files() -> None:
    assert packaged.contract_names() == tuple(sorted(STEMS))
    for stem in STEMS:
        assert packaged.contract(stem) == (SQL / ODCS_FOLDER / f"{stem}.odcs.yaml").read_text(encoding="utf-8")
    assert packaged.dbt_sources() == (SQL / DBT_SOURCES_FILE).read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="no packaged contract"):
        packaged.contract("../manifest")


# --- (b) each document is well-formed ODCS --------------------------------------------------------

# From the ODCS v3.1.0 JSON schema: the required top-level fields, the logical types, the options each
# logical type allows, the data-quality dimensions, and each server type's required fields.
ODCS_REQUIRED = {"version", "apiVersion", "kind", "id", "status"}
LOGICAL_TYPE_OPTIONS = {
    "string": {"minLength", "maxLength", "pattern", "format"},
    "integer": {"multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "format"},
    "number": {"multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "format"},
    "date": {"format", "exclusiveMaximum", "maximum", "exclusiveMinimum", "minimum"},
    "timestamp": {
        "format",
        "exclusiveMaximum",
        "maximum",
        "exclusiveMinimum",
        "minimum",
        "timezone",
        "defaultTimezone",
    },
    "boolean": set(),
}
DIMENSIONS = {"accuracy", "completeness", "conformity", "consistency", "coverage", "timeliness", "uniqueness"}
SERVER_FIELDS = {"duckdb": {"database"}, "postgres": {"host", "port", "database", "schema"}}


@pytest.mark.parametrize("stem", STEMS)
def test_each_odcs_document_has_the_required_fields(stem: str) -> None:
    contract = next(c for c in CONTRACTS if c.file_stem == stem)
    doc = odcs(stem)
    assert set(doc) >= ODCS_REQUIRED
    assert doc["apiVersion"] == "v3.1.0" and doc["kind"] == "DataContract" and doc["status"] == "active"
    assert doc["id"] == contract.contract_id
    assert isinstance(doc["description"]["purpose"], str) and "manifest.json" in doc["description"]["limitations"]
    schema_name = contracts.DEFAULT_SCHEMAS[contract.table.role]
    for server in doc["servers"]:
        assert SERVER_FIELDS[server["type"]] <= set(server), server
        assert server["schema"] == schema_name
    (obj,) = doc["schema"]
    assert (obj["name"], obj["physicalName"], obj["physicalType"], obj["logicalType"]) == (
        contract.table.name,
        contract.table.name,
        "table",
        "object",
    )
    assert obj["description"]
    keys = [p for p in obj["properties"] if p.get("primaryKey")]
    assert [(p["name"], p["primaryKeyPosition"], p["unique"], p["required"]) for p in keys] == [
        (contract.table.key, 1, True, True)
    ]
    for prop in obj["properties"]:
        assert {"name", "physicalName", "logicalType", "physicalType", "description", "required"} <= set(prop)
        assert set(prop.get("logicalTypeOptions", {})) <= LOGICAL_TYPE_OPTIONS[prop["logicalType"]], prop["name"]
    rules = [*obj["quality"], *(r for p in obj["properties"] for r in p.get("quality", []))]
    for rule in rules:
        assert rule["type"] == "sql" and rule["dimension"] in DIMENSIONS and rule["mustBe"] == 0
        assert rule["query"].startswith("SELECT COUNT(*) FROM ${table} WHERE ")


def test_the_contracts_follow_the_schema_definition() -> None:
    """Every column of every table, in order, with the DuckDB DDL's type and the schema's nullability."""
    ddl = (SQL / "duckdb" / "schema.sql").read_text(encoding="utf-8")
    for contract in CONTRACTS:
        props = odcs(contract.file_stem)["schema"][0]["properties"]
        assert [p["name"] for p in props] == list(contract.table.column_names)
        for column, prop in zip(contract.table.columns, props, strict=True):
            assert prop["required"] is not column.nullable
            assert prop["physicalType"] == DUCKDB.column_type(column)
            assert prop.get("logicalTypeOptions", {}).get("maxLength") == column.length
            if contract.describes(CLASSIC, 0):
                # The packaged DDL declares the same column the same way.
                null = "" if column.nullable else " NOT NULL"
                assert f"    {column.name} {prop['physicalType']}{null}" in ddl
    # loyalty_tier: optional where it exists, and only in the document of the states that have it.
    cdc_customers = odcs(f"customers.{CDC}")["schema"][0]["properties"]
    assert cdc_customers[-1]["name"] == "loyalty_tier" and cdc_customers[-1]["required"] is False
    assert "loyalty_tier" not in [p["name"] for p in odcs("customers")["schema"][0]["properties"]]


# --- (c) the contracts hold on a real database ---------------------------------------------------


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A DuckDB file per state, loaded by the simulator day by day as a pipeline would see it."""
    folder = tmp_path_factory.mktemp("contracts")
    out = {}
    for state, (profile, last_day) in STATES.items():
        path = folder / f"{profile}_{last_day}.duckdb"
        simulator = Simulator(DuckDBSession.for_database(str(path)), profile=profile)
        simulator.load_baseline()
        for day in range(1, last_day + 1):
            simulator.apply_delta(day)
        out[state] = path
    return out


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


# --- the dbt sources --------------------------------------------------------------------------------


def render_jinja(text: str, variables: dict[str, Any] | None = None) -> Any:
    """A dbt property as dbt renders it: var() from --vars, else its default; numbers as numbers."""
    given = variables or {}
    rendered = jinja2.Template(text).render(var=lambda name, default: given.get(name, default))
    return int(rendered) if rendered.isdigit() else rendered


def test_the_dbt_sources_list_the_contracts_tables_and_columns() -> None:
    sources = dbt_sources()
    assert sources["version"] == 2
    by_name = {s["name"]: s for s in sources["sources"]}
    assert set(by_name) == set(contracts.DEFAULT_SCHEMAS.values())
    base = {c.table.name: c for c in CONTRACTS if c.describes(CLASSIC, 0)}
    later = {c.table.name: c for c in CONTRACTS if c.describes(CDC, SCHEMA_CHANGE_DAY)}
    for role, schema in contracts.DEFAULT_SCHEMAS.items():
        source = by_name[schema]
        assert render_jinja(source["schema"]) == schema
        assert render_jinja(source["schema"], {f"{schema}_schema": "elsewhere"}) == "elsewhere"
        assert [t["name"] for t in source["tables"]] == [t.name for t in TABLES if t.role == role]
        for table in source["tables"]:
            always = [p["name"] for p in odcs(base[table["name"]].file_stem)["schema"][0]["properties"]]
            sometimes = [
                p["name"]
                for p in odcs(later[table["name"]].file_stem)["schema"][0]["properties"]
                if p["name"] not in always
            ]
            assert [c["name"] for c in table["columns"]] == always + sometimes
            assert table["description"] and all(c["description"] for c in table["columns"])
            props = {p["name"]: p for p in odcs(base[table["name"]].file_stem)["schema"][0]["properties"]}
            for column in table["columns"]:
                prop = props.get(column["name"])
                expected = (
                    [] if prop is None else ["unique"] * bool(prop.get("unique")) + ["not_null"] * prop["required"]
                )
                assert column.get("data_tests", []) == expected, (table["name"], column["name"])


def dbt_test_sql(test: str, relation: str, column: str) -> str:
    """The failing rows of dbt's built-in generic tests, counted as dbt's test macros select them."""
    if test == "not_null":
        return f"SELECT count(*) FROM {relation} WHERE {column} IS NULL"
    assert test == "unique", test
    return (
        f"SELECT count(*) FROM (SELECT {column} FROM {relation} WHERE {column} IS NOT NULL "
        f"GROUP BY {column} HAVING count(*) > 1)"
    )


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


def test_freshness_is_declared_on_updated_at_for_the_tables_that_change_daily() -> None:
    for source in dbt_sources()["sources"]:
        assert source["loaded_at_field"] == "updated_at"
        freshness = {k: (render_jinja(v["count"]), v["period"]) for k, v in source["freshness"].items()}
        assert freshness == {"warn_after": (24, "hour"), "error_after": (48, "hour")}
        warn_var = contracts.DBT_FRESHNESS_VARS["warn_after"][0]
        assert render_jinja(source["freshness"]["warn_after"]["count"], {warn_var: 100}) == 100
        assert {t["name"] for t in source["tables"] if "freshness" in t} <= set(contracts.NOT_CHANGED_DAILY)
        for table in source["tables"]:
            assert "updated_at" in [c["name"] for c in table["columns"]]
            if table["name"] in contracts.NOT_CHANGED_DAILY:
                assert table["freshness"] is None


def test_the_tables_with_freshness_change_every_day_and_the_others_do_not() -> None:
    """Against the packaged expected changes (days 1-7 of both profiles): what the freshness rests on."""
    for profile, days in packaged.changes().items():
        for table in TABLES:
            changed = [
                bool(d["tables"][table.name]["inserted"] or d["tables"][table.name]["updated"]) for d in days.values()
            ]
            if table.name in contracts.NOT_CHANGED_DAILY:
                assert not all(changed), f"{table.name} changes every day of {profile}: give it freshness"
            else:
                assert all(changed), f"{table.name} has a day without changes in {profile}: no daily freshness"


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


# --- (d) datacontract-cli, from its own venv ------------------------------------------------------

# datacontract-cli pins duckdb<1.6 and other packages that conflict with the project's pins, so it can
# only run from a venv of its own. The Makefile's `make test` can create it; where it is missing, the
# test is skipped and says how to get it.
DATACONTRACT_VENV = Path(os.environ.get("SOURCE_SIMULATOR_DATACONTRACT_VENV", REPO / ".venv-datacontract"))

# Runs inside the datacontract venv: lints and tests each (contract, database) job, prints the results.
_DATACONTRACT_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from datacontract.data_contract import DataContract

    results = []
    for contract, database in json.loads(sys.argv[1]):
        lint = DataContract(data_contract_file=contract).lint()
        os.environ["DATACONTRACT_DUCKDB_DATABASE"] = database  # the duckdb server's `database`, overridden
        run = DataContract(data_contract_file=contract, server="duckdb").test()
        results.append({
            "contract": os.path.basename(contract),
            "database": os.path.basename(database),
            "lint": str(lint.result.value),
            "result": str(run.result.value),
            "checks": len(run.checks),
            "failed": [f"{c.field or ''} {c.name}: {c.reason}" for c in run.checks if c.result.value != "passed"],
        })
    print("RESULTS " + json.dumps(results))
    """
)


def _datacontract_python() -> Path:
    python = DATACONTRACT_VENV / "bin" / "python"
    probe = (
        subprocess.run([str(python), "-c", "import datacontract"], capture_output=True, check=False)
        if python.exists()
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip(
            f"datacontract-cli is not installed in {DATACONTRACT_VENV}: it needs a venv of its own (its duckdb<1.6 "
            "pin conflicts with the project's duckdb), e.g. `python3 -m venv .venv-datacontract && "
            ".venv-datacontract/bin/pip install -r requirements-datacontract.txt`; or point "
            "SOURCE_SIMULATOR_DATACONTRACT_VENV at one."
        )
    return python


def _major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def _readable_copy(python: Path, database: Path, folder: Path) -> Path:
    """The database as the datacontract venv's older DuckDB can open it: the same catalog and rows,
    written in that version's storage format (DuckDB cannot read files of a newer storage version)."""
    theirs = subprocess.run(
        [str(python), "-c", "import duckdb; print(duckdb.__version__)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if _major_minor(theirs) >= _major_minor(duckdb.__version__):
        return database
    copy = folder / f"{database.stem}.v{theirs}.duckdb"
    storage_version = "v{}.{}.0".format(*_major_minor(theirs))
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{database}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{copy}' AS dst (STORAGE_VERSION '{storage_version}')")
        con.execute("COPY FROM DATABASE src TO dst")
    return copy


@pytest.mark.slow
def test_datacontract_cli_lints_and_tests_every_contract_against_duckdb(
    databases: dict[str, Path], tmp_path: Path
) -> None:
    python = _datacontract_python()
    readable = {state: _readable_copy(python, path, tmp_path) for state, path in databases.items()}
    jobs = [
        (str(SQL / ODCS_FOLDER / c.file_name), str(readable[state]))
        for state, (profile, day) in STATES.items()
        for c in CONTRACTS
        if c.describes(profile, day) and (state == "classic day 3" or not c.describes(CLASSIC, 3))
    ]
    # The control: the cdc customers document on a classic database must fail, on its missing column.
    control = (str(SQL / ODCS_FOLDER / f"customers.{CDC}.odcs.yaml"), str(readable["classic day 3"]))
    run = subprocess.run(
        [str(python), "-c", _DATACONTRACT_SCRIPT, json.dumps([*jobs, control])],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("DATACONTRACT_")},
        timeout=600,
    )
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("RESULTS ")]
    *results, control_result = json.loads(line.removeprefix("RESULTS "))
    assert len(results) == len(TABLES) + 1
    assert all(r["lint"] == "passed" for r in [*results, control_result]), [r for r in results if r["lint"] != "passed"]
    assert [r for r in results if r["result"] != "passed" or r["failed"]] == []
    assert all(r["checks"] >= 20 for r in results), results
    assert control_result["result"] == "failed"
    assert any("loyalty_tier" in f for f in control_result["failed"]), control_result
