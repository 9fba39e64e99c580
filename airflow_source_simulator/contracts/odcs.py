"""Open Data Contract Standard (ODCS v3.1) documents: one per table, and one per table that a profile's
schema change alters, for the states after that change.

Pure functions: nothing is read or written, and the text depends on its arguments only (no generation
time), so a rendering can be compared with the committed files.
"""

from __future__ import annotations

from typing import Any

from airflow_source_simulator.contracts.text import (
    AUDIT_RULES,
    COLUMN_RULES,
    DAY_ONE,
    DEFAULT_SCHEMAS,
    DOMAINS,
    GENERATED_NOTE,
    LOGICAL_TYPES,
    MANIFEST_RESOURCE,
    MINIMUMS,
    SYSTEMS,
    TABLE_DESCRIPTIONS,
    TABLE_RULES,
    Contract,
    QualityRule,
    column_description,
    contracts,
    header,
    physical_type,
    to_yaml,
)
from airflow_source_simulator.schema import Column, Table

ODCS_API_VERSION = "v3.1.0"


def _quality(rule: QualityRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "description": rule.description,
        "dimension": rule.dimension,
        "type": "sql",
        "query": rule.violations,
        "mustBe": 0,
    }


def _property(table: Table, column: Column) -> dict[str, Any]:
    prop: dict[str, Any] = {
        "name": column.name,
        "physicalName": column.name,
        "logicalType": LOGICAL_TYPES[column.type],
        "physicalType": physical_type(column),
        "description": column_description(table.name, column.name),
        "required": not column.nullable,
    }
    if column.name == table.key:
        prop |= {"primaryKey": True, "primaryKeyPosition": 1, "unique": True}
    options: dict[str, Any] = {}
    if column.type == "timestamp":
        # Naive timestamps holding the UTC wall-clock time: no session time zone shifts a value.
        options |= {"timezone": False, "defaultTimezone": "Etc/UTC"}
    if column.type == "varchar":
        options["maxLength"] = column.length
    if (table.name, column.name) in MINIMUMS:
        options["minimum"] = MINIMUMS[table.name, column.name]
    if options:
        prop["logicalTypeOptions"] = options
    if (table.name, column.name) in COLUMN_RULES:
        prop["quality"] = [_quality(COLUMN_RULES[table.name, column.name])]
    return prop


def odcs_document(contract: Contract, version: str) -> dict[str, Any]:
    """The ODCS v3 document of one contract, as plain data in the order it is written."""
    table, role = contract.table, contract.table.role
    schema = DEFAULT_SCHEMAS[role]
    rules = (*AUDIT_RULES, *TABLE_RULES.get(table.name, ()))
    return {
        "apiVersion": ODCS_API_VERSION,
        "kind": "DataContract",
        "id": contract.contract_id,
        "name": f"{schema}.{table.name}",
        "version": version,
        "status": "active",
        "domain": DOMAINS[role],
        "dataProduct": schema,
        "tags": ["airflow-source-simulator", "simulated", schema],
        "description": {
            "purpose": f"The {table.name} table of {SYSTEMS[role]}, as airflow-source-simulator {version} "
            f"creates and changes it, in {contract.states}.",
            "usage": "Test ingestion pipelines (incremental loads, CDC, SCD2, soft deletes) against a source "
            "whose every state is known. The rows of each state are a pure function of (scale, day, "
            "profile): the same on every engine and every run.",
            "limitations": "Simulated data: names and emails are synthetic. Timestamps follow the simulated "
            f"calendar (day N is {DAY_ONE} + N - 1), not the wall clock, so freshness can only be judged "
            "against the simulated day. The schema name is configurable (shop_schema / crm_schema); the "
            f"servers list the defaults. Row counts, ID ranges and digests per state are in {MANIFEST_RESOURCE}.",
        },
        "servers": [
            {
                "server": "duckdb",
                "type": "duckdb",
                "description": "The default platform: a DuckDB file (the Airflow connection's host). "
                "The path is the one `make simulate` writes; give your own file's.",
                "database": ".airflow/simulated_source.duckdb",
                "schema": schema,
            },
            {
                "server": "postgres",
                "type": "postgres",
                "description": "A PostgreSQL database (the Airflow connection's schema field); host, port "
                "and database are placeholders for your connection's.",
                "host": "localhost",
                "port": 5432,
                "database": "postgres",
                "schema": schema,
            },
        ],
        "schema": [
            {
                "name": table.name,
                "physicalName": table.name,
                "physicalType": "table",
                "logicalType": "object",
                "description": TABLE_DESCRIPTIONS[table.name],
                "dataGranularityDescription": f"One row per {table.key}.",
                "properties": [_property(table, c) for c in table.columns],
                "quality": [_quality(rule) for rule in rules],
            }
        ],
        "customProperties": [
            {"property": "generator", "value": "airflow-source-simulator"},
            {"property": "states", "value": contract.states},
            {"property": "stateManifest", "value": MANIFEST_RESOURCE},
        ],
    }


def odcs_contracts(version: str) -> dict[str, str]:
    """File name -> text of every ODCS document."""
    return {c.file_name: header(GENERATED_NOTE) + to_yaml(odcs_document(c, version)) for c in contracts()}
