"""Generated columns as an Arrow table with each column's SQL type: the bulk-loading format.

DuckDB scans Arrow in place and PostgreSQL's COPY reads the CSV Arrow writes in C++, so no row is
formatted by a Python loop on the way into a database.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from airflow_source_simulator.data.calendar import NULL_TS
from airflow_source_simulator.data.columns import Columns
from airflow_source_simulator.schema import Column, Table


def _decimal(cents: np.ndarray) -> pa.Array:
    """DECIMAL(10,2) straight from integer cents: a 128-bit little-endian integer per value."""
    words = np.zeros((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(10, 2), cents.size, [None, pa.py_buffer(words)])


def column_array(column: Column, values: np.ndarray) -> pa.Array:
    if column.type == "int":
        return pa.array(values.astype(np.int64, copy=False))
    if column.type == "decimal":
        return _decimal(values.astype(np.int64, copy=False))
    if column.type == "timestamp":
        mask = values == NULL_TS if column.nullable else None
        return pa.array(values.astype("datetime64[s]"), type=pa.timestamp("s"), mask=mask)
    if column.type == "date":
        return pa.array(values.astype("datetime64[D]"), type=pa.date32())
    if column.type == "bool":
        return pa.array(values.astype(bool, copy=False))
    return pa.array(values, type=pa.string(), mask=(values == "") if column.nullable else None)


def to_arrow(table: Table, columns: Columns) -> pa.Table:
    return pa.table({c.name: column_array(c, columns[c.name]) for c in table.columns})


def to_csv(rows: pa.Table) -> bytes:
    """Headerless CSV with NULL as an empty unquoted field: PostgreSQL's ``COPY … (FORMAT csv)``."""
    sink = io.BytesIO()
    pa_csv.write_csv(rows, sink, pa_csv.WriteOptions(include_header=False))
    return sink.getvalue()
