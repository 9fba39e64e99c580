"""Provider metadata, registered through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_source_simulator.version import __version__

# The form of the simulator's own connection type (its hook: hooks/source_simulator.py). Plain data,
# so that reading the provider's metadata imports no Airflow.
CONNECTION_TYPE_INFO: dict[str, Any] = {
    "hook-class-name": "airflow_source_simulator.hooks.source_simulator.SourceSimulatorHook",
    "hook-name": "Source Simulator",
    "connection-type": "source_simulator",
    "ui-field-behaviour": {
        "hidden-fields": [],
        "relabeling": {
            "host": "Host, or DuckDB database file",
            "schema": "Database",
            "password": "Password or token",
        },
        "placeholders": {
            "host": "/data/source.duckdb · md:my_db · db.example.com · adb-123.4.azuredatabricks.net",
            "schema": "the database (PostgreSQL, SQL Server); empty for DuckDB and Databricks",
            "login": "user (PostgreSQL, SQL Server); empty for DuckDB and Databricks",
            "password": "password; a Databricks personal access token; a MotherDuck token",
            "port": "5432 (PostgreSQL) · 1433 (SQL Server)",
            "extra": '{"platform": "databricks", "http_path": "/sql/1.0/warehouses/abc", "catalog": "dev"}',
        },
    },
    "conn-fields": {
        "platform": {
            "label": "Platform",
            "description": "The engine behind the simulated source: duckdb (also MotherDuck, with an md: "
            "database and a token), postgres, mssql (SQL Server / Azure SQL) or databricks.",
            "schema": {"type": "string", "enum": ["duckdb", "postgres", "mssql", "databricks"], "default": "duckdb"},
        },
        "http_path": {
            "label": "Databricks HTTP path",
            "description": "Databricks only: the SQL warehouse's or cluster's HTTP path.",
            "schema": {"type": ["string", "null"]},
        },
        "catalog": {
            "label": "Databricks catalog",
            "description": "Databricks only: the Unity Catalog catalog holding the source schemas.",
            "schema": {"type": ["string", "null"]},
        },
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-source-simulator",
        "name": "Source Simulator",
        "description": "Deterministic simulated source databases (jaffle_shop ERP, jaffle_crm CRM) for testing "
        "ingestion: baseline, daily deltas with updates and soft deletes, reset and status.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Source Simulator",
                "external-doc-url": "https://pypi.org/project/airflow-source-simulator/",
                "tags": ["software"],
            }
        ],
        "asset-uris": [
            {
                "schemes": ["source-simulator"],
                "handler": "airflow_source_simulator.assets.sanitize_uri",
            }
        ],
        "connection-types": [CONNECTION_TYPE_INFO],
        "hooks": [
            {
                "integration-name": "Source Simulator",
                "python-modules": ["airflow_source_simulator.hooks.source_simulator"],
            }
        ],
        "operators": [
            {
                "integration-name": "Source Simulator",
                "python-modules": [
                    "airflow_source_simulator.operators.simulator",
                    "airflow_source_simulator.operators.verify",
                ],
            }
        ],
    }
