"""Azure SQL Database and SQL Server, through the Microsoft SQL Server provider's hook (pymssql)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_source_simulator.dialects.mssql import MSSQL
from airflow_source_simulator.sessions.base import Session

if TYPE_CHECKING:
    from airflow.sdk import Connection


class MsSqlSession(Session):
    dialect = MSSQL
    conn_types = ("mssql",)

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> MsSqlSession:
        from airflow.providers.microsoft.mssql.hooks.mssql import MsSqlHook

        return cls(MsSqlHook(mssql_conn_id=conn_id, log_sql=False))
