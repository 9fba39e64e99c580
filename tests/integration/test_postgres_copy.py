"""Generated rows into PostgreSQL through binary COPY, and primary keys built after large loads, on the
private cluster."""

from __future__ import annotations

from typing import Any

import psycopg
import pyarrow as pa

from airflow_source_simulator.data.arrow import to_arrow, to_csv
from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.dialects.postgres import POSTGRES
from airflow_source_simulator.schema import TABLES, Table
from airflow_source_simulator.sessions.pgbinary import encode
from airflow_source_simulator.simulator import Simulator
from tests.support.postgres import PostgresServer
from tests.support.sources import postgres_session
from tests.unit.test_pgbinary import EVERY_TYPE, ROWS

ORDER_ITEMS = "jaffle_shop.order_items"  # 150,200 rows at scale 100, day 3: above the key-after threshold
CUSTOMERS = "jaffle_shop.customers"  # 17,500: below it


def _load(conn: psycopg.Connection[Any], ref: str, table: Table, rows: pa.Table, form: str) -> None:
    conn.execute(POSTGRES.create_table(ref, table.columns))
    data = encode(rows, table.columns) if form == "binary" else to_csv(rows)
    with conn.cursor() as cursor, cursor.copy(f"COPY {ref} FROM STDIN (FORMAT {form})") as copy:
        copy.write(data)


def _one(conn: psycopg.Connection[Any], sql: str) -> tuple[Any, ...]:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return tuple(row)


def _differences(conn: psycopg.Connection[Any], left: str, right: str) -> int:
    return _one(
        conn,
        f"SELECT count(*) FROM ((TABLE {left} EXCEPT ALL TABLE {right}) UNION ALL (TABLE {right} EXCEPT ALL TABLE {left})) d",
    )[0]


def test_binary_and_csv_copies_of_the_same_rows_hold_the_same_values(
    postgres: PostgresServer, pg_database: str
) -> None:
    cases = [(EVERY_TYPE, ROWS)] + [(t, to_arrow(t, Generator(3, 2).table(t.name))) for t in TABLES]
    with psycopg.connect(postgres.uri(pg_database), autocommit=True) as conn:
        for table, rows in cases:
            _load(conn, f"binary_{table.name}", table, rows, "binary")
            _load(conn, f"csv_{table.name}", table, rows, "csv")
            assert _one(conn, f"SELECT count(*) FROM binary_{table.name}")[0] == rows.num_rows
            assert _differences(conn, f"binary_{table.name}", f"csv_{table.name}") == 0, table.name
        name, amount, seen = _one(conn, "SELECT name, amount::text, seen FROM binary_every_type WHERE id = -7")
        assert (name, amount, seen) == (None, "-1234.05", None)


def _key_index(conn: psycopg.Connection[Any], ref: str) -> tuple[Any, ...]:
    """The OID and name of the table's primary key index, and the table's replica identity."""
    return _one(
        conn,
        "SELECT i.indexrelid::int, i.indexrelid::regclass::text, c.relreplident::text FROM pg_index i "
        f"JOIN pg_class c ON c.oid = i.indrelid WHERE i.indrelid = '{ref}'::regclass AND i.indisprimary",
    )


def test_a_large_load_builds_the_primary_key_after_its_rows_under_the_same_name(
    postgres: PostgresServer, pg_database: str, pg_conn_id: str
) -> None:
    pg_simulator = Simulator(postgres_session(pg_conn_id), scale=100)
    pg_simulator.apply_delta(1, fast_forward=True)
    with psycopg.connect(postgres.uri(pg_database), autocommit=True) as conn:
        before = {ref: _key_index(conn, ref) for ref in (ORDER_ITEMS, CUSTOMERS)}
        pg_simulator.apply_delta(3, fast_forward=True)
        after = {ref: _key_index(conn, ref) for ref in (ORDER_ITEMS, CUSTOMERS)}
    # Rebuilt (a new index) under its name for the large table; kept as it was for the small one.
    assert after[ORDER_ITEMS][0] != before[ORDER_ITEMS][0]
    assert after[ORDER_ITEMS][1:] == before[ORDER_ITEMS][1:] == ("jaffle_shop.order_items_pkey", "d")
    assert after[CUSTOMERS] == before[CUSTOMERS]
    assert pg_simulator.status(verify=True)["verified"] is True


def test_a_table_whose_replica_identity_names_its_key_index_keeps_that_index(
    postgres: PostgresServer, pg_database: str, pg_conn_id: str
) -> None:
    pg_simulator = Simulator(postgres_session(pg_conn_id), scale=100)
    pg_simulator.apply_delta(1, fast_forward=True)
    with psycopg.connect(postgres.uri(pg_database), autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {ORDER_ITEMS} REPLICA IDENTITY USING INDEX order_items_pkey")
        before = _key_index(conn, ORDER_ITEMS)
        pg_simulator.apply_delta(3, fast_forward=True)
        assert _key_index(conn, ORDER_ITEMS) == before == (before[0], "jaffle_shop.order_items_pkey", "i")
    assert pg_simulator.status(verify=True)["verified"] is True


def test_a_column_whose_owner_changed_its_type_is_loaded_as_csv_which_the_server_casts(
    postgres: PostgresServer, pg_database: str, pg_conn_id: str
) -> None:
    pg_simulator = Simulator(postgres_session(pg_conn_id), scale=2)  # generated rows: the bulk path
    pg_simulator.load_baseline()
    with psycopg.connect(postgres.uri(pg_database), autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {CUSTOMERS} ALTER COLUMN customer_id TYPE bigint")
        conn.execute("ALTER TABLE jaffle_shop.payments ALTER COLUMN amount TYPE double precision")
    pg_simulator.apply_delta(1)
    pg_simulator.apply_delta(2)
    assert pg_simulator.status(verify=True)["verified"] is True
