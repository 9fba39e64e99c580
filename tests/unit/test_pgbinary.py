"""PostgreSQL's binary COPY format as the encoder writes it, read back by an independent reader of the
documented layout (tests/integration/test_postgres_copy.py loads it into a real server)."""

from __future__ import annotations

import struct
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from airflow_source_simulator.data.arrow import to_arrow
from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import TABLES, Column, Table
from airflow_source_simulator.sessions.pgbinary import encode, encode_parts

EVERY_TYPE = Table(
    "every_type",
    "shop",
    (
        Column("id", "int"),
        Column("name", "varchar", nullable=True, length=40),
        Column("amount", "decimal"),
        Column("seen", "timestamp", nullable=True),
        Column("born", "date"),
        Column("active", "bool"),
    ),
)
ROWS = pa.table(
    {
        "id": pa.array([1, -7, 2_147_483_647], pa.int64()),
        "name": pa.array(["Ann", None, "Zoë ✓ 😀"], pa.string()),
        "amount": pa.array([Decimal("0.00"), Decimal("-1234.05"), Decimal("99999999.99")], pa.decimal128(10, 2)),
        "seen": pa.array(
            [datetime(2024, 4, 1, 9, 30, 15), None, datetime(1999, 12, 31, 23, 59, 59)], pa.timestamp("s")
        ),
        "born": pa.array([date(2000, 1, 1), date(1970, 1, 1), date(2031, 7, 4)], pa.date32()),
        "active": pa.array([True, False, True]),
    }
)


def _numeric(data: bytes) -> Decimal:
    ndigits, weight, sign, dscale = struct.unpack(">hhHH", data[:8])
    digits = struct.unpack(f">{ndigits}h", data[8:])
    value = sum(Decimal(d) * Decimal(10_000) ** (weight - i) for i, d in enumerate(digits))
    return (-value if sign == 0x4000 else value).quantize(Decimal(1).scaleb(-dscale))


READERS: dict[str, Any] = {
    "int": lambda b: struct.unpack(">i", b)[0],
    "varchar": lambda b: b.decode("utf-8"),
    "decimal": _numeric,
    "timestamp": lambda b: datetime(2000, 1, 1) + timedelta(microseconds=struct.unpack(">q", b)[0]),
    "date": lambda b: date(2000, 1, 1) + timedelta(days=struct.unpack(">i", b)[0]),
    "bool": lambda b: b == b"\x01",
}


def read(data: bytes, columns: tuple[Column, ...]) -> list[tuple[Any, ...]]:
    """The rows of a binary COPY stream, read by the layout in PostgreSQL's documentation."""
    assert data[:11] == b"PGCOPY\n\xff\r\n\x00"
    flags, extension = struct.unpack(">ii", data[11:19])
    assert (flags, extension) == (0, 0)
    at, rows = 19, list[tuple[Any, ...]]()
    while True:
        (count,) = struct.unpack(">h", data[at : at + 2])
        at += 2
        if count == -1:
            assert at == len(data), "bytes after the trailer"
            return rows
        assert count == len(columns)
        row: list[Any] = []
        for column in columns:
            (length,) = struct.unpack(">i", data[at : at + 4])
            at += 4
            if length == -1:
                row.append(None)
                continue
            row.append(READERS[column.type](data[at : at + length]))
            at += length
        rows.append(tuple(row))


def test_every_type_and_null_reads_back_as_written() -> None:
    assert read(encode(ROWS, EVERY_TYPE.columns), EVERY_TYPE.columns) == [
        tuple(row.values()) for row in ROWS.to_pylist()
    ]


def test_no_rows_is_the_header_and_the_trailer() -> None:
    assert read(encode(ROWS.slice(0, 0), EVERY_TYPE.columns), EVERY_TYPE.columns) == []


def test_a_slice_of_a_table_is_encoded_from_its_offset() -> None:
    assert read(encode(ROWS.slice(1, 2), EVERY_TYPE.columns), EVERY_TYPE.columns) == [
        tuple(row.values()) for row in ROWS.slice(1, 2).to_pylist()
    ]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_generated_rows_read_back_as_their_arrow_values(table: Table) -> None:
    rows = to_arrow(table, Generator(3, 2).table(table.name))
    assert read(encode(rows, table.columns), table.columns) == [tuple(r.values()) for r in rows.to_pylist()]


def test_a_value_outside_integer_is_refused_with_its_column() -> None:
    too_big = ROWS.set_column(0, "id", pa.array(np.array([1, 2, 2**31]), pa.int64()))
    with pytest.raises(SimulatorError, match=r"column id: a value outside INTEGER's range \(2,147,483,648\)"):
        encode(too_big, EVERY_TYPE.columns)


@pytest.mark.parametrize("slice_rows", [1, 2, 7, 1_000])
def test_encoded_in_parts_it_is_the_same_bytes(slice_rows: int) -> None:
    customers = TABLES[0]
    rows = to_arrow(customers, Generator(1, 1).table(customers.name))
    parts = list(encode_parts(rows, customers.columns, slice_rows))
    assert b"".join(parts) == encode(rows, customers.columns)
    assert len(parts) == 2 + -(-rows.num_rows // slice_rows)  # the header, each slice, the trailer
    assert b"".join(encode_parts(rows.slice(0, 0), customers.columns, slice_rows)) == encode(
        rows.slice(0, 0), customers.columns
    )
