"""Generated columns and the helpers that build them, whole arrays at a time (no per-row Python).

Logical representation: int and date columns are int64 (dates in days since the epoch), decimals are
int64 cents, timestamps are int64 seconds with ``NULL_TS`` for NULL, booleans are bool, text is str.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from airflow_source_simulator.data.calendar import NULL_TS
from airflow_source_simulator.data.hashing import I64

Columns = dict[str, np.ndarray]


def pick(options: tuple[str, ...], index: I64) -> npt.NDArray[np.str_]:
    return np.asarray(options)[index]


def concat(*parts: npt.NDArray[np.str_] | str) -> npt.NDArray[np.str_]:
    """Element-wise concatenation of string arrays and constants, in C (no per-row Python)."""
    out = np.asarray(parts[0])
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return out


def latest(*timestamps: I64) -> I64:
    return np.maximum.reduce(timestamps)


def happened(ts: I64, end: int) -> I64:
    """Keep an event's timestamp if it happened before ``end``; NULL_TS otherwise."""
    return np.where((ts != NULL_TS) & (ts < end), ts, NULL_TS)


def runs(values: I64) -> Iterator[tuple[int, int]]:
    """The ``[lo, hi)`` bounds of each run of equal consecutive values."""
    cuts = np.flatnonzero(np.diff(values)) + 1
    yield from zip(np.r_[0, cuts].tolist(), np.r_[cuts, values.size].tolist(), strict=True) if values.size else ()
