"""The machinery every table's generator shares: cohorts of keys, their creation times, the lifecycle
windows of orders and the payment plan.

A cohort is the rows one simulated day (or the baseline, cohort 0) inserts into a table: its keys are
consecutive, so a key's cohort, and with it its creation time, is known from the key alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from airflow_source_simulator.data.calendar import DAY_ONE, HOUR, NULL_TS, _epoch, day_start, spread
from airflow_source_simulator.data.hashing import I64, hash_keys
from airflow_source_simulator.data.scenario import Window, cohort_volumes, order_windows, paid_lifecycles

CUSTOMERS_SINCE = _epoch(2023, 7, 1)
PRODUCTS_SINCE = _epoch(2023, 12, 1)
ORDERS_SINCE = _epoch(2024, 1, 1)
CRM_SINCE = _epoch(2024, 3, 1)


@dataclass(frozen=True)
class Cohorts:
    """The cohorts of one table in a state: cohort ``c`` (0 = the baseline, else day ``c``) holds the
    IDs ``first[c] .. first[c] + size[c] - 1``."""

    first: I64
    size: I64

    def of(self, ids: I64) -> I64:
        return np.searchsorted(self.first, ids, side="right") - 1


@lru_cache(maxsize=64)
def cohorts(table: str, day: int, scale: int) -> Cohorts:
    """The cohorts of ``table`` present at the end of ``day``."""
    size = np.array([getattr(cohort_volumes(c), table) for c in range(day + 1)], dtype=np.int64) * scale
    return Cohorts(first=np.cumsum(size) - size + 1, size=size)


def cohort_window(cohort: I64, history_since: int, day_from_hour: float, hours: float) -> tuple[I64, I64]:
    """Start and span of the creation times of each cohort: the history, or part of its day."""
    start = np.where(cohort == 0, history_since, day_start(cohort) + int(day_from_hour * HOUR))
    span = np.where(cohort == 0, DAY_ONE - history_since - 2 * HOUR, int(hours * HOUR))
    return start, span


def created_times(
    table: str, ids: I64, groups: Cohorts, history_since: int, from_hour: float, hours: float
) -> tuple[I64, I64]:
    """Each key's cohort, and its creation time: keys are spread over their cohort's window."""
    cohort = groups.of(ids)
    start, span = cohort_window(cohort, history_since, from_hour, hours)
    first, size = groups.first[cohort], groups.size[cohort]
    return cohort, spread(ids - first, size, start, span, hash_keys(ids, f"{table}.created"))


@dataclass(frozen=True)
class Windows:
    """Every lifecycle window of the orders of a state: consecutive order IDs ``first .. first + size - 1``
    of one cohort. Counting orders window by window in rank order, the window's orders take the global
    positions ``first - 1 .. first + size - 2``, and each lifecycle is a contiguous run of them."""

    first: I64
    size: I64
    cohort: I64
    shapes: tuple[Window, ...]
    names: tuple[str, ...]

    def of(self, ids: I64) -> I64:
        return np.searchsorted(self.first, ids, side="right") - 1


@lru_cache(maxsize=8)
def window_table(day: int, scale: int) -> Windows:
    first, size, cohort, shapes, names = [], [], [], [], []
    next_id = 1
    for c in range(day + 1):
        for w_no, window in enumerate(order_windows(c)):
            first.append(next_id)
            size.append(window.size * scale)
            cohort.append(c)
            shapes.append(window)
            names.append(f"orders.window.{c}.{w_no}")
            next_id += window.size * scale
    as_array = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    return Windows(as_array(first), as_array(size), as_array(cohort), tuple(shapes), tuple(names))


@dataclass(frozen=True)
class PaymentPlan:
    """The paid lifecycles of a state, in payment-ID order: payment IDs ``base .. base + count - 1`` go
    to the orders at global positions ``offset .. offset + count - 1``; each (day, backfill) batch of
    payments is spread over its hours."""

    offset: I64
    count: I64
    base: I64
    batch_first: I64
    batch_size: I64
    batch_start: I64
    batch_span: I64

    @classmethod
    def build(cls, day: int, scale: int) -> PaymentPlan:
        paid = paid_lifecycles(day, scale)
        count = np.array([p.count for p in paid], dtype=np.int64)
        base = np.cumsum(count) - count + 1
        # Each day pays its backfill first (from 01:00, over an hour), then its shipments (from 09:00,
        # over nine hours); a (day, backfill) batch is a contiguous run of payment IDs.
        code = np.array([p.pay_day * 2 + (not p.backfill) for p in paid], dtype=np.int64)
        _, first_of, which = np.unique(code, return_index=True, return_inverse=True)
        hours = np.where(code % 2 == 0, 1, 9)
        return cls(
            offset=np.array([p.offset for p in paid], dtype=np.int64),
            count=count,
            base=base,
            batch_first=base[first_of][which],
            batch_size=np.bincount(which, weights=count).astype(np.int64)[which],
            batch_start=day_start(code // 2) + hours * HOUR,
            batch_span=hours * HOUR,
        )

    def payments_of(self, position: I64) -> tuple[I64, I64]:
        """Payment ID and time of the orders at global ``position`` (-1 and NULL_TS for unpaid ones)."""
        if self.count.size == 0:
            return np.full_like(position, -1), np.full_like(position, NULL_TS)
        by_offset = np.argsort(self.offset)
        k = by_offset[np.maximum(np.searchsorted(self.offset[by_offset], position, side="right") - 1, 0)]
        inside = (position >= self.offset[k]) & (position < self.offset[k] + self.count[k])
        payment_id = np.where(inside, self.base[k] + position - self.offset[k], -1)
        slot = payment_id - self.batch_first[k]
        h = hash_keys(payment_id, "payments.created")
        paid_at = spread(slot, self.batch_size[k], self.batch_start[k], self.batch_span[k], h)
        return payment_id, np.where(inside, paid_at, NULL_TS)

    def positions_of(self, payment_id: I64) -> tuple[I64, I64]:
        """The paid lifecycle (index into this plan) and global order position of each payment."""
        k = np.searchsorted(self.base, payment_id, side="right") - 1
        return k, self.offset[k] + payment_id - self.base[k]
