"""Running plans on connections: one session class per engine, around the engine's own Airflow hook."""

from __future__ import annotations

from airflow_source_simulator.sessions.base import Session
from airflow_source_simulator.sessions.databricks import DatabricksSession
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.sessions.mssql import MsSqlSession
from airflow_source_simulator.sessions.postgres import PostgresSession

SESSIONS: tuple[type[Session], ...] = (DuckDBSession, PostgresSession, MsSqlSession, DatabricksSession)

__all__ = ["SESSIONS", "DatabricksSession", "DuckDBSession", "MsSqlSession", "PostgresSession", "Session"]
