"""A stand-in for your incremental pipeline, run by the CI recipes beside it (see docs/ci.md): replace it with yours.

It copies the simulated source's eight tables into a DuckDB "warehouse" replica (schemas ``raw_<source schema>``):
for each table the rows whose ``updated_at`` is past the table's watermark less one day (a look-back, for rows
that arrive late), merged by key; columns the source added are added (schema evolution); keys the source no
longer holds are deleted (delete detection: a watermark never sees a hard delete). Run it after the load and
after every day. It prints the rows copied and deleted per table as JSON.

Environment: ``SOURCE_CONN_ID`` (default ``duckdb_default``) and ``WAREHOUSE_CONN_ID`` (default ``warehouse``)
name connections given as ``AIRFLOW_CONN_<ID>`` JSON, the variables the simulator reads: a DuckDB file,
``{"conn_type": "duckdb", "host": "<path>"}``, or for the source PostgreSQL, ``{"conn_type": "postgres", "host":
…, "port": …, "login": …, "password": …, "schema": "<database>"}``. ``SHOP_SCHEMA`` and ``CRM_SCHEMA`` name the
source's schemas (default ``jaffle_shop``, ``jaffle_crm``). It needs duckdb, pyarrow and (for PostgreSQL)
psycopg, which ``pip install "airflow-source-simulator[postgres]"`` installs; it does not import Airflow.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import Any

import duckdb
import pyarrow as pa

SCHEMAS = {"shop": os.environ.get("SHOP_SCHEMA", "jaffle_shop"), "crm": os.environ.get("CRM_SCHEMA", "jaffle_crm")}
# Each source table: its schema and its key.
TABLES = {
    "customers": ("shop", "customer_id"),
    "products": ("shop", "product_id"),
    "orders": ("shop", "order_id"),
    "order_items": ("shop", "order_item_id"),
    "payments": ("shop", "payment_id"),
    "campaigns": ("crm", "campaign_id"),
    "email_activity": ("crm", "activity_id"),
    "web_sessions": ("crm", "session_id"),
}
LOOK_BACK = dt.timedelta(days=1)  # the cdc profile's late rows arrive at most a day late
# PostgreSQL type OIDs of the source's columns, as Arrow types (numeric takes the column's precision and scale).
PG_TYPES = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
}
PG_NUMERIC = 1700


def connection(conn_id: str) -> dict[str, Any]:
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    try:
        return dict(json.loads(os.environ[variable]))
    except (KeyError, ValueError) as error:
        raise SystemExit(f"set {variable} to the connection as JSON ({type(error).__name__}: {error})") from None


class Source:
    """Reads the source, a DuckDB file (read-only) or a PostgreSQL database, into Arrow tables."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.kind = fields.get("conn_type")
        if self.kind == "duckdb":
            self.db: Any = duckdb.connect(fields["host"], read_only=True)
        elif self.kind == "postgres":
            import psycopg

            self.db = psycopg.connect(
                host=fields.get("host"),
                port=fields.get("port") or 5432,
                user=fields.get("login"),
                password=fields.get("password") or None,
                dbname=fields.get("schema") or "postgres",
                autocommit=True,
            )
        else:
            raise SystemExit(f"this stand-in reads DuckDB or PostgreSQL sources, not conn_type {self.kind!r}")

    def read(self, sql: str) -> pa.Table:
        if self.kind == "duckdb":
            return self.db.sql(sql).to_arrow_table()
        with self.db.cursor() as cursor:
            cursor.execute(sql)
            rows, columns = cursor.fetchall(), cursor.description
        types = [
            pa.decimal128(c.precision or 38, c.scale or 0) if c.type_code == PG_NUMERIC else PG_TYPES[c.type_code]
            for c in columns
        ]
        return pa.table(
            {c.name: pa.array([r[i] for r in rows], t) for i, (c, t) in enumerate(zip(columns, types, strict=True))}
        )

    def close(self) -> None:
        self.db.close()


def run(db: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> list[Any]:
    return db.execute(sql, list(params)).fetchall()  # each result fetched before the next statement


def ingest(source: Source, warehouse: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    run(warehouse, "CREATE SCHEMA IF NOT EXISTS raw_meta")
    run(
        warehouse,
        "CREATE TABLE IF NOT EXISTS raw_meta.watermarks (source_table VARCHAR PRIMARY KEY, high_water TIMESTAMP)",
    )
    out = {}
    for table, (role, key) in TABLES.items():
        name, target = f"{SCHEMAS[role]}.{table}", f"raw_{SCHEMAS[role]}.{table}"
        mark = run(warehouse, "SELECT high_water FROM raw_meta.watermarks WHERE source_table = ?", name)
        since = f" WHERE updated_at > '{mark[0][0] - LOOK_BACK}'" if mark else ""
        increment = source.read(f"SELECT * FROM {name}{since}")
        keys = source.read(f"SELECT {key} FROM {name}")
        warehouse.register("increment", increment)
        warehouse.register("source_keys", keys)
        run(warehouse, "BEGIN TRANSACTION")
        run(warehouse, f"CREATE SCHEMA IF NOT EXISTS raw_{SCHEMAS[role]}")
        run(warehouse, f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM increment LIMIT 0")
        for column, kind, *_ in run(warehouse, "DESCRIBE SELECT * FROM increment"):  # schema evolution
            run(warehouse, f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {column} {kind}")
        run(warehouse, f"DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM increment)")
        run(warehouse, f"INSERT INTO {target} BY NAME SELECT * FROM increment")
        deleted = run(warehouse, f"DELETE FROM {target} WHERE {key} NOT IN (SELECT {key} FROM source_keys)")[0][0]
        if increment.num_rows:
            run(warehouse, "INSERT OR REPLACE INTO raw_meta.watermarks SELECT ?, max(updated_at) FROM increment", name)
        run(warehouse, "COMMIT")
        warehouse.unregister("increment")
        warehouse.unregister("source_keys")
        out[name] = {"copied": increment.num_rows, "deleted": int(deleted)}
    return out


def main() -> int:
    source = Source(connection(os.environ.get("SOURCE_CONN_ID", "duckdb_default")))
    warehouse = duckdb.connect(connection(os.environ.get("WAREHOUSE_CONN_ID", "warehouse"))["host"])
    try:
        result = ingest(source, warehouse)
    finally:
        source.close()
        warehouse.close()
    print(json.dumps(result, indent=2))
    print(f"ingested {sum(t['copied'] for t in result.values())} rows into the warehouse", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
