"""PostgreSQL's binary ``COPY`` format, built from Arrow columns with NumPy: no row is formatted in Python.

The server parses text slowly (a timestamp or a numeric in CSV costs it several times what the binary
value does), so generated rows go in binary wherever the table's column types are the ones the simulator
creates; ``BINARY_TYPES`` names them, and a table whose types differ (changed by its owner) gets CSV.

Layout (PostgreSQL's "Binary Format" of COPY): a signature and two 32-bit words, then per row a 16-bit
field count and per field a 32-bit length (-1 for NULL) and the value in the type's binary form, all
big-endian, then a 16-bit -1.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import Column

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # flags and header extension length: none
TRAILER = b"\xff\xff"
EPOCH_SECONDS = 946_684_800  # PostgreSQL's epoch, 2000-01-01, in Unix seconds
EPOCH_DAYS = 10_957
INT4_MAX = 2**31 - 1
# The server's name (``atttypid::regtype``) of each logical type whose binary form is written here.
BINARY_TYPES: dict[str, tuple[str, ...]] = {
    "int": ("integer",),
    "decimal": ("numeric",),
    "timestamp": ("timestamp without time zone",),
    "date": ("date",),
    "bool": ("boolean",),
    "varchar": ("character varying", "text"),
}


# A fixed-width piece of each row: big-endian words, each a (NumPy format, values per row) pair.
Words = list[tuple[str, np.ndarray | int]]


def _nulls(array: pa.Array) -> np.ndarray | None:
    if array.null_count == 0:
        return None
    return np.asarray(array.is_null().to_numpy(zero_copy_only=False))


def _numeric(cents: np.ndarray) -> Words:
    """NUMERIC(10,2) from cents: three base-10000 digits with weight 1 and display scale 2 (the server
    strips the zero digits), sign 0x4000 when negative."""
    magnitude = np.abs(cents)
    whole = magnitude // 100
    digits, weight, scale = 3, 1, 2
    sign = np.where(cents < 0, 0x4000, 0)
    return [(">i2", word) for word in (digits, weight, sign, scale, whole // 10_000, whole % 10_000)] + [
        (">i2", (magnitude % 100) * 100)
    ]


def _values(column: Column, array: pa.Array) -> Words | pa.Array:
    """The column's values: words for fixed-width types, else a binary array (a NULL's value is empty;
    its length word says it is NULL)."""
    kind = column.type
    if kind == "varchar":
        text = array if array.null_count == 0 else array.fill_null("")
        return text.cast(pa.string()).cast(pa.large_binary())
    if kind == "bool":
        return [("u1", np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False)))]
    if kind == "decimal":
        low = np.frombuffer(array.buffers()[1], dtype=np.int64).reshape(-1, 2)
        return _numeric(low[array.offset : array.offset + len(array), 0])
    if pa.types.is_date32(array.type):
        array = array.cast(pa.int32())
    as_int = array.cast(pa.int64()).fill_null(0).to_numpy()
    if kind == "int":
        if as_int.size and (as_int.min() < -INT4_MAX - 1 or as_int.max() > INT4_MAX):
            raise SimulatorError(f"column {column.name}: a value outside INTEGER's range ({as_int.max():,})")
        return [(">i4", as_int)]
    if kind == "timestamp":
        return [(">i8", (as_int - EPOCH_SECONDS) * 1_000_000)]
    if kind == "date":
        return [(">i4", as_int - EPOCH_DAYS)]
    raise ValueError(f"no binary form for type {kind!r}")


def _piece(offsets: np.ndarray, data: np.ndarray) -> pa.Array:
    """A binary array over ``data`` cut at ``offsets`` (one more than its values), without a copy."""
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))]
    return pa.Array.from_buffers(pa.large_binary(), offsets.size - 1, buffers)


def _packed(words: Words, rows: int) -> np.ndarray:
    """The words side by side, row by row: a packed record per row, as bytes."""
    records = np.empty(rows, dtype=np.dtype([(f"w{i}", fmt) for i, (fmt, _) in enumerate(words)]))
    for i, (_, values) in enumerate(words):
        records[f"w{i}"] = values
    return records.view(np.uint8)


def _pieces(column: Column, array: pa.Array) -> list[Words | pa.Array]:
    """The column's length words and values; fixed-width values stay words, to be packed with their
    neighbours."""
    values, nulls = _values(column, array), _nulls(array)
    if not isinstance(values, pa.Array):
        width = sum(np.dtype(fmt).itemsize for fmt, _ in values)
        if nulls is None:
            return [[(">i4", width), *values]]
        # A fixed-width type with NULLs: a NULL has no value bytes.
        present = ~nulls
        packed = _packed(values, len(array)).reshape(len(array), width)[present]
        values = _piece(np.concatenate([[0], np.cumsum(np.where(present, width, 0))]), packed)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset : values.offset + len(values) + 1]
    lengths = np.diff(offsets)
    return [[(">i4", lengths if nulls is None else np.where(nulls, -1, lengths))], values]


def encode(rows: pa.Table, columns: Sequence[Column]) -> bytes:
    """``rows`` (the columns ``columns``, in order) in PostgreSQL's binary COPY format."""
    return b"".join([SIGNATURE, _body(rows, columns), TRAILER])


# Rows per slice of ``encode_parts``: a few tens of MB of COPY data.
SLICE_ROWS = 250_000


def encode_parts(
    rows: pa.Table, columns: Sequence[Column], slice_rows: int = SLICE_ROWS
) -> Iterator[bytes | memoryview]:
    """The same bytes as ``encode``, in parts: the header, each slice's rows, the trailer. The next slice is
    encoded on another thread while the caller sends this one, so the client encodes while the server
    parses (NumPy and Arrow release the GIL, and so does the driver while it sends)."""
    yield SIGNATURE
    with ThreadPoolExecutor(1, thread_name_prefix="source-simulator-encode") as pool:
        encoded = None  # the slice before the one being encoded
        for start in range(0, rows.num_rows, slice_rows):
            encoding = pool.submit(_body, rows.slice(start, slice_rows), columns)
            if encoded is not None:
                yield encoded.result()
            encoded = encoding
        if encoded is not None:
            yield encoded.result()
    yield TRAILER


def _body(rows: pa.Table, columns: Sequence[Column]) -> memoryview:
    """The rows of a binary COPY, without its header and trailer.

    Each row is the concatenation of its pieces (field count, then each field's length word and value):
    runs of fixed-width words are packed side by side by NumPy, and Arrow joins the runs row by row in C++.
    """
    count = rows.num_rows
    pieces: list[Words | pa.Array] = [[(">i2", len(columns))]]
    for column in columns:
        pieces.extend(_pieces(column, rows.column(column.name).combine_chunks()))
    runs: list[pa.Array] = []
    words: Words = []
    for piece in [*pieces, None]:
        if isinstance(piece, list):
            words.extend(piece)
            continue
        if words:
            packed = _packed(words, count)
            runs.append(_piece(np.arange(count + 1, dtype=np.int64) * (packed.size // max(count, 1)), packed))
            words = []
        if piece is not None:
            runs.append(piece)
    joined = runs[0] if len(runs) == 1 else pc.binary_join_element_wise(*runs, pa.scalar(b"", pa.large_binary()))
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)
    body = joined.buffers()[2][int(offsets[0]) : int(offsets[-1])] if count else b""
    return memoryview(body)
