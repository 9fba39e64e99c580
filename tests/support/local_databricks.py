"""databricks-sql-connector against open-source Spark's Thrift server: the few differences from a SQL warehouse.

The product talks to Databricks through ``DatabricksSqlHook`` and the connector, unchanged. A Databricks SQL
warehouse and open-source Spark's HiveServer2 speak the same Thrift protocol, but a warehouse speaks more of it;
each patch below bridges one difference, and only for the tests that ask for them (``adapt``). None of this
is in the product: on a real workspace none of it is needed.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from airflow_source_simulator.dialects.databricks import DATABRICKS
from airflow_source_simulator.schema import Column
from tests.support.connections import connection
from tests.support.spark_server import SparkServer

# The catalog query every dialect writes (dialects/base.py): open-source Spark has no INFORMATION_SCHEMA.
_CATALOG = re.compile(
    r"^SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, IS_NULLABLE, COLUMN_DEFAULT FROM INFORMATION_SCHEMA\.COLUMNS "
    r"WHERE TABLE_SCHEMA IN \((?P<schemas>[^)]*)\)",
    re.IGNORECASE,
)


_TEXT = Column("name", "varchar")  # the catalog's names, as the dialect writes a text literal
# Statements that can change what SHOW SCHEMAS, SHOW TABLES or DESCRIBE TABLE answer.
_DDL = re.compile(r"^\s*(CREATE|DROP|REPLACE|ALTER\s+(SCHEMA|TABLE\s+\S+\s+(ADD|DROP|RENAME|ALTER|REPLACE)))\b", re.I)


def databricks_connection(monkeypatch: pytest.MonkeyPatch, server: SparkServer, conn_id: str = "dbx_local") -> str:
    """An Airflow connection of type ``databricks`` to the local server, as a user would write one for a
    warehouse (host, token, http_path), plus the connector's ``_connection_uri``, which the hook passes through
    from the extra: the local server speaks plain HTTP on its own port, a warehouse HTTPS on 443."""
    return connection(
        monkeypatch,
        conn_id,
        conn_type="databricks",
        host=server.host,
        password="local-token",
        # enable_telemetry (a documented connector setting): with it on, each connection first asks the
        # workspace's REST API for feature flags, which the local server does not serve (4 s of retries).
        extra={
            "http_path": f"/{server.uri.rsplit('/', 1)[1]}",
            "_connection_uri": server.uri,
            "enable_telemetry": False,
        },
    )


def adapt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Patch the connector, for this test only, to speak to open-source Spark's Thrift server."""
    from databricks.sql import client
    from databricks.sql.auth import authenticators
    from databricks.sql.backend import thrift_backend
    from databricks.sql.thrift_api.TCLIService import ttypes

    # 1. Authentication: a warehouse takes a Bearer token; HiveServer2 over HTTP with no authentication still
    # reads a Basic user name (any) from the Authorization header, and refuses a request without one.
    def basic(self: Any, request_headers: dict[str, str]) -> None:
        request_headers["Authorization"] = "Basic " + base64.b64encode(b"simulator:local").decode()

    monkeypatch.setattr(authenticators.AccessTokenAuthProvider, "add_headers", basic)

    # 2. Protocol version: the connector refuses a server below SPARK_CLI_SERVICE_PROTOCOL_V2, a number only
    # Databricks runtimes answer; Spark's server answers HIVE_CLI_SERVICE_PROTOCOL_V10. (Hence also no catalog
    # at connect: setting an initial namespace needs SPARK_CLI_SERVICE_PROTOCOL_V4.)
    monkeypatch.setattr(thrift_backend.ThriftDatabricksClient, "_check_protocol_version", lambda self, resp: None)

    # 3. Result format: a warehouse names the format of every result set it sends (Arrow, columns, URLs), in
    # the metadata reply and in each fetch; Spark's server names none, and sends columns.
    request = thrift_backend.ThriftDatabricksClient.make_request

    def named_format(self: Any, method: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        resp = request(self, method, req, *args, **kwargs)
        columns = ttypes.TSparkRowSetType.COLUMN_BASED_SET
        if isinstance(resp, ttypes.TGetResultSetMetadataResp) and resp.resultFormat is None:
            resp.resultFormat = columns
        if isinstance(resp, ttypes.TFetchResultsResp) and resp.resultSetMetadata is None:
            resp.resultSetMetadata = ttypes.TGetResultSetMetadataResp(resultFormat=columns)
        return resp

    monkeypatch.setattr(thrift_backend.ThriftDatabricksClient, "make_request", named_format)

    # 4. Statements that return no rows (DDL, MERGE): a warehouse sends an empty Arrow batch list, Spark's server
    # a row set with neither columns nor batches.
    arrow_table = thrift_backend.ThriftDatabricksClient._create_arrow_table

    def empty_set(self: Any, t_row_set: Any, lz4: Any, schema_bytes: Any, description: Any) -> Any:
        if t_row_set.columns is None and t_row_set.arrowBatches is None:
            t_row_set.columns = []
        return arrow_table(self, t_row_set, lz4, schema_bytes, description)

    monkeypatch.setattr(thrift_backend.ThriftDatabricksClient, "_create_arrow_table", empty_set)

    # 5. The catalog: Unity Catalog answers INFORMATION_SCHEMA.COLUMNS; open-source Spark has no
    # INFORMATION_SCHEMA. The same rows are built from SHOW TABLES and DESCRIBE TABLE, and returned as the
    # result of a VALUES query, so that the cursor fetches them as it would the warehouse's answer.
    # The answers of SHOW and DESCRIBE are kept until a statement that can change a catalog runs: a warehouse
    # answers the catalog query in one statement, and asking Spark afresh each time made these the tier's most
    # frequent statements.
    execute = client.Cursor.execute
    known: dict[str, list[tuple[Any, ...]]] = {}

    def answered(self: Any, operation: str, *args: Any, **kwargs: Any) -> Any:
        match = _CATALOG.match(operation.strip())
        if match:
            schemas = [s.strip().strip("'") for s in match["schemas"].split(",") if s.strip()]

            def query(sql: str) -> list[tuple[Any, ...]]:
                if sql not in known:
                    known[sql] = _rows(execute, self, sql)
                return known[sql]

            operation = _catalog_rows(query, schemas)
        elif _DDL.match(operation):
            known.clear()
        return execute(self, operation, *args, **kwargs)

    monkeypatch.setattr(client.Cursor, "execute", answered)


def _rows(execute: Any, cursor: Any, sql: str) -> list[tuple[Any, ...]]:
    execute(cursor, sql)
    return [tuple(row) for row in cursor.fetchall()]


def _catalog_rows(query: Any, schemas: list[str]) -> str:
    """A query answering the catalog query for ``schemas``: one row per column, in table order."""
    present = {str(row[0]).lower() for row in query("SHOW SCHEMAS")}
    rows = []
    for schema in schemas:
        if schema.lower() not in present:
            continue
        for row in query(f"SHOW TABLES IN {DATABRICKS.quote(schema)}"):
            table, temporary = str(row[1]), row[2]
            if temporary:
                continue
            # Nullability is not told: DESCRIBE leaves it out, and Delta refuses DESCRIBE ... AS JSON and SHOW
            # CREATE TABLE. Every column reads as nullable, so the guard against required columns of a user's
            # own is not checked on this engine (it is on DuckDB, PostgreSQL and translated SQL).
            for name, *_ in query(f"DESCRIBE TABLE {DATABRICKS.quote(schema)}.{DATABRICKS.quote(table)}"):
                if not name or str(name).startswith("#"):  # the partitioning section follows the columns
                    break
                names = ", ".join(DATABRICKS.literal(_TEXT, str(n)) for n in (schema, table, name))
                rows.append(f"({names}, 'YES', NULL)")
    if not rows:
        return (
            "SELECT CAST(NULL AS STRING) AS TABLE_SCHEMA, CAST(NULL AS STRING) AS TABLE_NAME, "
            "CAST(NULL AS STRING) AS COLUMN_NAME, CAST(NULL AS STRING) AS IS_NULLABLE, "
            "CAST(NULL AS STRING) AS COLUMN_DEFAULT WHERE FALSE"
        )
    return (
        "SELECT * FROM VALUES " + ", ".join(rows) + " AS c(TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, IS_NULLABLE, "
        "COLUMN_DEFAULT)"
    )
