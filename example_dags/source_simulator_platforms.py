"""
### The classic simulation on each platform, with change capture on

One DAG per platform: reset → days 1-3 (one task per day) → verified status. Each reads its own
Airflow connection; create it as shown in the DAG's documentation (and in the README).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, chain

from airflow_source_simulator import ApplyDeltaOperator, ResetOperator, StatusOperator

# dag_id suffix: (connection id, enable_cdc, how to create the connection)
PLATFORMS: dict[str, tuple[str, bool | str, str]] = {
    "postgres": (
        "postgres_source",
        True,
        'AIRFLOW_CONN_POSTGRES_SOURCE=\'{"conn_type": "postgres", "host": "db.internal", "port": 5432, '
        '"login": "simulator", "password": "...", "schema": "sources"}\'\n\n'
        "Change capture: a publication `source_simulator_jaffle_shop` for the eight tables "
        "(the server needs `wal_level = logical` for a CDC tool to subscribe).",
    ),
    "mssql": (
        "mssql_source",
        True,
        'AIRFLOW_CONN_MSSQL_SOURCE=\'{"conn_type": "mssql", "host": "myserver.database.windows.net", "port": 1433, '
        '"login": "simulator", "password": "...", "schema": "sources"}\'\n\n'
        "Works on Azure SQL Database (no `USE`): the database is the connection's schema field. Change capture: "
        'Change Tracking on the database and tables (`enable_cdc="cdc"` for CDC, which needs SQL Server Agent).',
    ),
    "databricks": (
        "databricks_source",
        True,
        'AIRFLOW_CONN_DATABRICKS_SOURCE=\'{"conn_type": "databricks", "host": "adb-123.azuredatabricks.net", '
        '"password": "dapi...", "extra": {"http_path": "/sql/1.0/warehouses/abc", "catalog": "main"}}\'\n\n'
        "Unity Catalog and Delta tables with the change data feed on. No multi-statement transactions: every "
        "statement is idempotent and the ledger is written last, so a retried task completes a partial one.",
    ),
    "motherduck": (
        "motherduck_source",
        False,
        'AIRFLOW_CONN_MOTHERDUCK_SOURCE=\'{"conn_type": "duckdb", "schema": "my_db", "password": "<token>", '
        '"extra": {"autoinstall_extensions": true}}\'\n\n'
        "The DuckDB hook opens `md:my_db` with the token; DuckDB has no change capture.",
    ),
}

for platform, (conn_id, enable_cdc, connection) in PLATFORMS.items():
    with DAG(
        dag_id=f"source_simulator_{platform}",
        description=f"The classic days on {platform}: reset, apply days 1-3, verify.",
        schedule=None,
        start_date=pendulum.datetime(2024, 4, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        tags=["source-simulator", "example", platform],
        doc_md=f"{__doc__}\n\nConnection `{conn_id}`:\n\n    {connection}\n",
    ):
        chain(
            ResetOperator(task_id="reset", conn_id=conn_id, enable_cdc=enable_cdc),
            *(
                ApplyDeltaOperator(task_id=f"apply_day_{day}", day=day, conn_id=conn_id, enable_cdc=enable_cdc)
                for day in (1, 2, 3)
            ),
            StatusOperator(task_id="status", conn_id=conn_id, verify=True),
        )
