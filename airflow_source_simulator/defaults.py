"""The defaults every layer shares: the source's Airflow connection, its two schemas, its change profile."""

from __future__ import annotations

from airflow_source_simulator.data.scenario import Profile

CONN_ID = "duckdb_default"
SHOP_SCHEMA = "jaffle_shop"
CRM_SCHEMA = "jaffle_crm"
PROFILE = Profile.CLASSIC
