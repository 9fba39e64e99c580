"""Airflow assets for the simulated tables, so ingestion DAGs can be scheduled on a source changing.

A table's asset is ``source-simulator://<conn_id>/<schema>/<table>``: the source is named by its
Airflow connection, which is known when the DAG is parsed (the platform behind the connection is only
looked up when a task runs, and each asset event carries it in its ``extra``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import Asset

from airflow_source_simulator.defaults import CONN_ID, CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.schema import TABLES

if TYPE_CHECKING:
    from urllib.parse import SplitResult

SCHEME = "source-simulator"
GROUP = "source-simulator"


def table_asset(conn_id: str, schema: str, table: str) -> Asset:
    """The asset of one simulated table."""
    return Asset(uri=f"{SCHEME}://{conn_id}/{schema}/{table}", group=GROUP)


def source_assets(conn_id: str = CONN_ID, shop_schema: str = SHOP_SCHEMA, crm_schema: str = CRM_SCHEMA) -> list[Asset]:
    """The assets of the eight simulated tables of one source, in schema order."""
    schemas = {"shop": shop_schema, "crm": crm_schema}
    return [table_asset(conn_id, schemas[t.role], t.name) for t in TABLES]


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's check of a ``source-simulator://`` URI: a connection, then a schema and a table."""
    parts = uri.path.split("/")
    if not uri.netloc or len(parts) != 3 or not all(parts[1:]):
        raise ValueError(f"{SCHEME}:// URIs are {SCHEME}://<conn_id>/<schema>/<table>, not {uri.geturl()!r}")
    return uri
