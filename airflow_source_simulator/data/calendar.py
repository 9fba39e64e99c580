"""The simulated calendar: a fixed history before day 1 and one fixed date per day.

Timestamps are whole seconds since the Unix epoch (naive, no time zone), held in int64 arrays.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from airflow_source_simulator.data.hashing import I64, U64, below

DAY = 86_400
HOUR = 3_600
MINUTE = 60


def _epoch(year: int, month: int, day: int) -> int:
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp())


DAY_ONE = _epoch(2024, 4, 1)
"""Day 1 is 2024-04-01; the baseline holds what happened before it."""

NULL_TS = np.int64(-1)
"""Marks a timestamp that has not happened (a NULL column, or an event outside the state)."""


@overload
def day_start(day: int) -> int: ...
@overload
def day_start(day: np.ndarray) -> I64: ...
def day_start(day: Any) -> Any:
    """First second of simulated day ``day`` (day 0 is the last day of the history); ints or arrays."""
    return DAY_ONE + (day - 1) * DAY


def simulated_date(day: int) -> dt.date:
    """The calendar date of simulated day ``day`` (day 0, the baseline, is 2024-03-31)."""
    return dt.datetime.fromtimestamp(day_start(day), dt.UTC).date()


def day_of_date(date: dt.date | str) -> int:
    """The simulated day of a calendar date (``"2024-04-01"`` is day 1): the inverse of ``simulated_date``."""
    value = dt.date.fromisoformat(date) if isinstance(date, str) else date
    return (value - simulated_date(0)).days


def state_end(day: int) -> int:
    """First second after the state of day ``day``: an event belongs to the state if it is earlier."""
    return day_start(day + 1)


def day_of(ts: I64) -> I64:
    """The simulated day an event falls on (0 or less for the history)."""
    return (ts - DAY_ONE) // DAY + 1


def spread(slot: I64, n: int | I64, start: int | I64, span: int | I64, h: U64) -> I64:
    """Timestamps for slots ``0..n-1`` in ``[start, start + span)``: the slot's share plus a hashed jitter.

    Keys created in ID order get non-decreasing timestamps, as in a real source system; each key's
    timestamp needs only its own slot, so any range of keys can be computed on its own.
    """
    lo = start + (slot * span) // n
    hi = start + ((slot + 1) * span) // n
    return lo + below(h, np.maximum(hi - lo, 1))


def count_before(t: I64, n: int | I64, start: int | I64, span: int | I64) -> I64:
    """How many of ``spread(range(n), n, start, span, ...)``'s timestamps are surely earlier than each ``t``."""
    return np.clip(((t - start) * n - 1) // span, 0, n)


def format_timestamps(ts: I64) -> npt.NDArray[np.str_]:
    """'YYYY-MM-DD HH:MM:SS' for each timestamp."""
    text = np.datetime_as_string(ts.astype("datetime64[s]"), unit="s")
    return np.char.replace(text, "T", " ")


def format_dates(days: I64) -> npt.NDArray[np.str_]:
    """'YYYY-MM-DD' for each count of days since the epoch."""
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")
