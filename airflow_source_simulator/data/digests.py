"""Content digests computed from Arrow, chunk by chunk: the manifest's digests (the SHA-256 of each table's
canonical lines in key order, see ``canonical``) without a Python loop over rows and in bounded memory.

The canonical line of every row is built by Arrow's compute kernels in C++, a newline appended, and the
SHA-256 fed with the string array's data buffer as it is: the concatenation of the lines. The same code
digests generated rows and rows read back from a database, whatever types its driver returns.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airflow_source_simulator.data.canonical import NULL, SEPARATOR
from airflow_source_simulator.schema import Column, Table


def _text(column: Column, values: pa.Array) -> pa.Array:
    """The canonical text of one column's values (NULL as ``\\N``)."""
    kind = values.type
    if column.type == "timestamp":
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            values = pc.cast(values, pa.timestamp("s"))
        # Naive seconds: a zone-aware value is its UTC wall-clock time. Arrow casts them to the canonical
        # 'YYYY-MM-DD HH:MM:SS' (strftime would take thirty times as long).
        text = pc.cast(pc.cast(values, pa.timestamp("s"), safe=False), pa.string())
    elif column.type == "bool":
        if pa.types.is_string(kind):  # as text: PostgreSQL's t/f, or true/false
            values = pc.is_in(pc.utf8_lower(values), value_set=pa.array(["t", "true", "1"]))
            values = pc.if_else(pc.is_null(values), None, values)
        text = pc.if_else(values, "true", "false")
    elif column.type == "decimal":
        if not pa.types.is_decimal(kind):
            values = pc.cast(values, pa.decimal128(18, 2))
        text = pc.cast(values, pa.string())
    elif column.type == "date":
        text = pc.cast(pc.cast(values, pa.date32()) if not pa.types.is_date32(kind) else values, pa.string())
    else:
        text = pc.cast(values, pa.string())
    return pc.fill_null(text, NULL)


def lines(table: Table, data: pa.Table) -> pa.Array:
    """Each row's canonical line and a newline, in the order given."""
    texts = [_text(c, data.column(c.name).combine_chunks()) for c in table.columns]
    joined = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, SEPARATOR)
    return pc.binary_join_element_wise(joined, "", "\n")


# Chunks of at least this many rows have their lines built in slices on every core (Arrow's kernels
# release the GIL), and hashed in order.
PARALLEL_ROWS = 100_000
_WORKERS = max(1, min(os.cpu_count() or 1, 4))


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_WORKERS, thread_name_prefix="source-simulator-digest")


def _line_parts(table: Table, data: pa.Table) -> list[pa.Array]:
    if data.num_rows < PARALLEL_ROWS or _WORKERS == 1:
        return [lines(table, data)]
    size = -(-data.num_rows // _WORKERS)
    return list(_pool().map(lambda lo: lines(table, data.slice(lo, size)), range(0, data.num_rows, size)))


def text_bytes(array: pa.Array) -> memoryview:
    """The bytes of a string array's values, back to back."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    buffer = array.buffers()[2]
    return memoryview(buffer)[start:end] if buffer is not None else memoryview(b"")


@dataclass
class TableDigest:
    """A table's figures, fed chunk by chunk in key order: rows, lowest and highest key, content digest."""

    table: Table
    rows: int = 0
    min_id: int | None = None
    max_id: int | None = None
    _hash: Any = field(default_factory=hashlib.sha256)

    def update(self, data: pa.Table) -> None:
        if not data.num_rows:
            return
        keys = pc.cast(data.column(self.table.key), pa.int64())  # text from a CSV read, too
        low, high = pc.min_max(keys).values()
        self.add([text_bytes(part) for part in _line_parts(self.table, data)], data.num_rows, low.as_py(), high.as_py())

    def add(self, text: Iterable[memoryview | bytes], rows: int, low: int, high: int) -> None:
        """A chunk whose canonical lines (``lines``) were built elsewhere (by Spark's executors): their
        bytes, its row count, and its lowest and highest key."""
        for part in text:
            self._hash.update(part)
        self.min_id = int(low) if self.min_id is None else min(self.min_id, int(low))
        self.max_id = int(high) if self.max_id is None else max(self.max_id, int(high))
        self.rows += rows

    @property
    def digest(self) -> str:
        return str(self._hash.hexdigest())

    def figures(self) -> dict[str, Any]:
        return {"rows": self.rows, "min_id": self.min_id, "max_id": self.max_id, "digest": self.digest}
