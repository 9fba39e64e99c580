"""Contracts for the consumers of the simulated sources, built from the one schema definition.

- ``odcs_contracts()``: an Open Data Contract Standard (ODCS v3) YAML document per table, and one per
  table that a profile's schema change alters, for the states after that change;
- ``dbt_sources_yaml()``: a dbt ``sources.yml`` for the two schemas.

A build tool: it imports nothing of Airflow, and ``python -m airflow_source_simulator.render`` writes its
output into the packaged files.
"""

from __future__ import annotations

from airflow_source_simulator.contracts.dbt import DBT_FRESHNESS_VARS, NOT_CHANGED_DAILY, dbt_sources, dbt_sources_yaml
from airflow_source_simulator.contracts.odcs import odcs_contracts, odcs_document
from airflow_source_simulator.contracts.text import DEFAULT_SCHEMAS, Contract, contracts

__all__ = [
    "DBT_FRESHNESS_VARS",
    "DEFAULT_SCHEMAS",
    "NOT_CHANGED_DAILY",
    "Contract",
    "contracts",
    "dbt_sources",
    "dbt_sources_yaml",
    "odcs_contracts",
    "odcs_document",
]
