"""The consumer contracts as rendered: fresh, deterministic, complete, and following the schema definition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from airflow_source_simulator import contracts, packaged
from airflow_source_simulator.data.scenario import CDC, CLASSIC, SCHEMA_CHANGE_DAY
from airflow_source_simulator.dialects.duckdb import DUCKDB
from airflow_source_simulator.render import CONTRACTS_FOLDER, DBT_SOURCES_FILE, ODCS_FOLDER, render_contracts
from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.version import __version__
from tests.support.contracts import CONTRACTS, SQL, dbt_sources, odcs

STEMS = [c.file_stem for c in CONTRACTS]


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


def render_jinja(text: str, variables: dict[str, Any] | None = None) -> Any:
    """A dbt property as dbt renders it: var() from --vars, else its default; numbers as numbers."""
    given = variables or {}
    rendered = jinja2.Template(text).render(var=lambda name, default: given.get(name, default))
    return int(rendered) if rendered.isdigit() else rendered


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
