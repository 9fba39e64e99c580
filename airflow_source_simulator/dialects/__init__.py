"""The SQL of each engine, apart from the sessions that run it: pure text, no connection, no Airflow."""

from __future__ import annotations

from airflow_source_simulator.dialects.base import Dialect
from airflow_source_simulator.dialects.databricks import DATABRICKS
from airflow_source_simulator.dialects.duckdb import DUCKDB
from airflow_source_simulator.dialects.mssql import MSSQL
from airflow_source_simulator.dialects.postgres import POSTGRES

# In the order the packaged SQL is rendered and the platforms are listed.
DIALECTS: tuple[Dialect, ...] = (DUCKDB, POSTGRES, MSSQL, DATABRICKS)
DIALECTS_BY_NAME: dict[str, Dialect] = {d.name: d for d in DIALECTS}

__all__ = ["DIALECTS", "DIALECTS_BY_NAME", "Dialect"]
