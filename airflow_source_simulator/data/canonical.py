"""Canonical text of rows, and the content digests built on it.

One text per value, whichever engine stored it: a row is its values joined by ``|`` with NULL as
``\\N``; a table's digest is the SHA-256 of its rows in key order, one per line. The same text is the
data block the DuckDB SQL carries, so what is loaded is byte for byte what is digested.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from airflow_source_simulator.data.calendar import NULL_TS, format_dates, format_timestamps
from airflow_source_simulator.schema import TABLES, Column, Table

NULL = "\\N"
SEPARATOR = "|"
_FORBIDDEN = (SEPARATOR, "\n", "\r", "'", "\\")


def format_column(column: Column, values: np.ndarray) -> npt.NDArray[np.str_]:
    """Canonical text of a generated column (see ``generate`` for the logical representation)."""
    if not values.size:
        return np.array([], dtype=str)
    if column.type == "int":
        text = values.astype(str)
    elif column.type == "decimal":
        if (values < 0).any():
            raise ValueError(f"negative amount in {column.name}")
        text = np.char.add(np.char.add((values // 100).astype(str), "."), np.char.zfill((values % 100).astype(str), 2))
    elif column.type == "timestamp":
        text = format_timestamps(values)
        if column.nullable:
            text = np.where(values == NULL_TS, NULL, text)
    elif column.type == "date":
        text = format_dates(values)
    elif column.type == "bool":
        text = np.where(values, "true", "false")
    else:
        text = values.astype(str)
        for bad in _FORBIDDEN:
            if np.char.find(text, bad).max(initial=-1) >= 0:
                raise ValueError(f"generated text in {column.name} contains {bad!r}")
        if column.nullable:  # generated text has no empty values: "" stands for NULL
            text = np.where(text == "", NULL, text)
    return np.asarray(text, dtype=str)


def canonical_rows(table: Table, columns: dict[str, np.ndarray]) -> list[str]:
    """The canonical line of every generated row, in the order given (the key order)."""
    texts = [format_column(c, columns[c.name]) for c in table.columns]
    if not texts[0].size:
        return []
    joined = texts[0].astype(object)
    for text in texts[1:]:
        joined = joined + SEPARATOR + text.astype(object)
    return list(joined)


def format_value(column: Column, value: Any) -> str:
    """Canonical text of one value as a database driver returns it."""
    if value is None:
        return NULL
    if column.type == "decimal":
        return f"{Decimal(value):.2f}"
    if column.type == "timestamp":
        if value.tzinfo is not None:  # a driver that returns aware values (Databricks) means UTC here
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if column.type == "date":
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    if column.type == "bool":
        return "true" if value else "false"
    return str(value)


def format_fetched_rows(table: Table, rows: Iterable[Sequence[Any]]) -> list[str]:
    return [SEPARATOR.join(format_value(c, v) for c, v in zip(table.columns, row, strict=False)) for row in rows]


def digest(lines: Iterable[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


def state_digest(table_digests: dict[str, str]) -> str:
    """One digest of a whole state: the table digests in schema order."""
    return digest(f"{t.name}:{table_digests[t.name]}" for t in TABLES)
