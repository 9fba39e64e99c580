"""The state of every table at the end of a simulated day, as columns of NumPy arrays.

Each row's life is fixed when it is created (when an order ships, when an email is opened, when a
customer moves or leaves), as a pure function of its key. The state of day D keeps the events that
happened before the end of day D; a day's delta is the difference of two consecutive states, so
replaying days and jumping straight to a day give the same rows.

Logical representation: int and date columns are int64 (dates in days since the epoch), decimals are
int64 cents, timestamps are int64 seconds with ``NULL_TS`` for NULL, booleans are bool, text is str.
"""

from __future__ import annotations

import bisect
import fractions
import itertools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache

import numpy as np
import numpy.typing as npt

from airflow_source_simulator.data import vocabulary as vocab
from airflow_source_simulator.data.calendar import (
    DAY,
    DAY_ONE,
    HOUR,
    MINUTE,
    NULL_TS,
    _epoch,
    count_before,
    day_of,
    day_start,
    spread,
    state_end,
)
from airflow_source_simulator.data.hashing import I64, U64, below, hash_keys, permute, unit, unpermute
from airflow_source_simulator.data.scenario import (
    CAMPAIGN_WAVE_DAYS,
    CAMPAIGNS,
    CDC,
    CLASSIC,
    CLASSIC_DAYS,
    HIST_SHIPPED,
    LATE_SHARE,
    LOYALTY_TIERS,
    NEVER,
    PRODUCTS,
    PURGE_SHARE,
    SCHEMA_CHANGE_DAY,
    Window,
    cohort_volumes,
    max_id,
    order_windows,
    paid_lifecycles,
    price_change_days,
)

Columns = dict[str, np.ndarray]

CUSTOMERS_SINCE = _epoch(2023, 7, 1)
PRODUCTS_SINCE = _epoch(2023, 12, 1)
ORDERS_SINCE = _epoch(2024, 1, 1)
CRM_SINCE = _epoch(2024, 3, 1)
CAMPAIGN_START = _epoch(2024, 1, 1) // DAY  # in days
CAMPAIGN_END = _epoch(2024, 6, 30) // DAY

# Every 20th customer (IDs 13, 33, ...) signs up, never buys or engages, and closes the account:
# the soft-deleted customers. Nothing ever references them, so no active row points at a deleted one.
CHURN_EVERY = 20
CHURN_AT = 13
CUSTOMER_UPDATE_RATE = 0.05
EVENTS = {"complete_hist": 0, "ship_hist": 1, "cancel_hist": 2, "ship": 3, "cancel": 4}
STATUSES = ("pending", "shipped", "completed", "cancelled")
ITEMS_BLOCK = 8


def _pick(options: tuple[str, ...], index: I64) -> npt.NDArray[np.str_]:
    return np.asarray(options)[index]


def _concat(*parts: npt.NDArray[np.str_] | str) -> npt.NDArray[np.str_]:
    """Element-wise concatenation of string arrays and constants, in C (no per-row Python)."""
    out = np.asarray(parts[0])
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return out


def _latest(*timestamps: I64) -> I64:
    return np.maximum.reduce(timestamps)


def _happened(ts: I64, end: int) -> I64:
    """Keep an event's timestamp if it happened before ``end``; NULL_TS otherwise."""
    return np.where((ts != NULL_TS) & (ts < end), ts, NULL_TS)


@dataclass(frozen=True)
class Cohorts:
    """The cohorts of one table in a state: cohort ``c`` (0 = the baseline, else day ``c``) holds the
    IDs ``first[c] .. first[c] + size[c] - 1``."""

    first: I64
    size: I64

    def of(self, ids: I64) -> I64:
        return np.searchsorted(self.first, ids, side="right") - 1

    @property
    def total(self) -> int:
        return int(self.first[-1] + self.size[-1] - 1)


@lru_cache(maxsize=64)
def cohorts(table: str, day: int, scale: int) -> Cohorts:
    """The cohorts of ``table`` present at the end of ``day``."""
    size = np.array([getattr(cohort_volumes(c), table) for c in range(day + 1)], dtype=np.int64) * scale
    return Cohorts(first=np.cumsum(size) - size + 1, size=size)


def _cohort_window(cohort: I64, history_since: int, day_from_hour: float, hours: float) -> tuple[I64, I64]:
    """Start and span of the creation times of each cohort: the history, or part of its day."""
    start = np.where(cohort == 0, history_since, day_start(cohort) + int(day_from_hour * HOUR))
    span = np.where(cohort == 0, DAY_ONE - history_since - 2 * HOUR, int(hours * HOUR))
    return start, span


def _created(
    table: str, ids: I64, groups: Cohorts, history_since: int, from_hour: float, hours: float
) -> tuple[I64, I64]:
    """Each key's cohort, and its creation time: keys are spread over their cohort's window."""
    cohort = groups.of(ids)
    start, span = _cohort_window(cohort, history_since, from_hour, hours)
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
def _windows(day: int, scale: int) -> Windows:
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


PARALLEL_FROM = 100_000  # keys; below this, threads cost more than they save
_WORKERS = max(1, min(os.cpu_count() or 1, 4))


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_WORKERS, thread_name_prefix="source-simulator")


@dataclass
class Generator:
    """Generates the state of one (scale, day). Cheap to build; tables are computed on first use.

    ``keys=(lo, hi)`` restricts every table to the keys ``lo <= key < hi``: each row is a function of
    its key, so disjoint key ranges can be generated apart (by Spark tasks) and put together.
    """

    day: int
    scale: int = 1
    profile: str = CLASSIC
    keys: tuple[int, int] | None = None
    end: int = field(init=False)

    def __post_init__(self) -> None:
        self.end = state_end(self.day)

    def _in_parallel(self, generate: Callable[[I64], Columns], keys: I64) -> Columns:
        """``generate(keys)``, in slices on every core for a whole large state (NumPy releases the GIL);
        a key range (a Spark task) stays on one thread, as its executor runs other tasks beside it."""
        if self.keys is not None or keys.size < PARALLEL_FROM or _WORKERS == 1:
            return generate(keys)
        parts = list(_pool().map(generate, np.array_split(keys, _WORKERS)))
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def ids(self, table: str) -> I64:
        """The keys of ``table`` this generator produces (generated tables hold IDs 1..max_id)."""
        lo, hi = 1, max_id(table, self.day, self.scale) + 1
        if self.keys is not None:
            lo, hi = max(lo, self.keys[0]), min(hi, self.keys[1])
        return np.arange(lo, max(lo, hi), dtype=np.int64)

    # --- customers ------------------------------------------------------------------------------
    def pick_customer(self, h: np.ndarray, at: I64) -> I64:
        """A customer that exists before ``at`` and never churns, chosen by hash ``h``.

        Cohorts sign up in disjoint, ordered windows: the customers before ``at`` are every earlier
        cohort and part of the last cohort whose window has begun.
        """
        groups = cohorts("customers", self.day, self.scale)
        starts, spans = _cohort_window(np.arange(groups.size.size), CUSTOMERS_SINCE, 7, 14)
        c = np.maximum(np.searchsorted(starts, at, side="right") - 1, 0)
        existing = groups.first[c] - 1 + count_before(at, groups.size[c], starts[c], spans[c])
        churned = (existing + (CHURN_EVERY - CHURN_AT)) // CHURN_EVERY
        eligible = existing - churned
        if (eligible <= 0).any():
            raise AssertionError("a row was generated before any customer existed")
        j = below(h, eligible)
        block, slot = j // (CHURN_EVERY - 1), j % (CHURN_EVERY - 1)
        return block * CHURN_EVERY + np.where(slot < CHURN_AT - 1, slot + 1, slot + 2)

    @cached_property
    def customers(self) -> Columns:
        return self._in_parallel(self._customer_rows, self.ids("customers"))

    def _customer_rows(self, ids: I64) -> Columns:
        cohort, created = _created("customers", ids, cohorts("customers", self.day, self.scale), CUSTOMERS_SINCE, 7, 14)

        first_idx = below(hash_keys(ids, "customers.first"), len(vocab.FIRST_NAMES))
        last_idx = below(hash_keys(ids, "customers.last"), len(vocab.LAST_NAMES))
        churn = ids % CHURN_EVERY == CHURN_AT

        # Churned customers leave: baseline ones in the history or on days 1-3, later ones 1-3 days on.
        h_leave = hash_keys(ids, "customers.leave")
        offset = below(h_leave, 4)
        leave_day = np.where(cohort == 0, offset, cohort + 1 + below(h_leave, 3))
        in_history = (
            created + HOUR + below(hash_keys(ids, "customers.leave_hist"), np.maximum(DAY_ONE - created - 2 * HOUR, 1))
        )
        on_day = day_start(leave_day) + 12 * HOUR + below(hash_keys(ids, "customers.leave_time"), 11 * HOUR)
        deleted = _happened(np.where(churn, np.where(leave_day == 0, in_history, on_day), NULL_TS), self.end)

        # Active customers change address or name now and then: SCD2 pipelines see history.
        version = np.zeros_like(ids)
        changed = np.full_like(ids, NULL_TS)
        married = np.zeros(ids.shape, dtype=bool)
        for d in range(1, min(self.day, CLASSIC_DAYS[-1]) + 1):
            moves = ~churn & (cohort < d) & (unit(hash_keys(ids, "customers.update", d)) < CUSTOMER_UPDATE_RATE)
            version += moves
            changed = np.where(moves, _update_time(ids, d), changed)
            married |= moves & (unit(hash_keys(ids, "customers.marry", d)) < 0.3)
        # After the classic days each customer's updates are a chain of hashed gaps (the same chance per
        # day): the work grows with the updates made, not with days times customers.
        active = np.flatnonzero(~churn & (self.day > CLASSIC_DAYS[-1]))
        on = np.maximum(cohort[active], CLASSIC_DAYS[-1])
        step = 0
        while active.size:
            step += 1
            on = on + _update_gap(hash_keys(ids[active], "customers.update_gap", step))
            due = on <= self.day
            active, on = active[due], on[due]
            version[active] += 1
            changed[active] = _update_time(ids[active], on)
            married[active] |= unit(hash_keys(ids[active], "customers.marry", on)) < 0.3
        new_last = (last_idx + 1 + below(hash_keys(ids, "customers.new_last"), len(vocab.LAST_NAMES) - 1)) % len(
            vocab.LAST_NAMES
        )
        first = _pick(vocab.FIRST_NAMES, first_idx)
        last = _pick(vocab.LAST_NAMES, np.where(married, new_last, last_idx))
        domain = _pick(vocab.EMAIL_DOMAINS, version % len(vocab.EMAIL_DOMAINS))
        first_lower = _pick(tuple(n.lower() for n in vocab.FIRST_NAMES), first_idx)
        last_lower = _pick(tuple(n.lower() for n in vocab.LAST_NAMES), np.where(married, new_last, last_idx))
        email = _concat(first_lower, ".", last_lower, ids.astype(str), "@", domain)
        columns: Columns = {
            "customer_id": ids,
            "first_name": first,
            "last_name": last,
            "email": email,
            "created_at": created,
            "updated_at": _latest(created, changed, deleted),
            "deleted_at": deleted,
        }
        if self.profile == CDC and self.day >= SCHEMA_CHANGE_DAY:
            # The additive schema change: a nullable column, filled for customers who sign up or
            # change since it exists; older rows keep NULL ("").
            since = day_start(SCHEMA_CHANGE_DAY)
            tier = _pick(LOYALTY_TIERS, below(hash_keys(ids * 1024 + version, "customers.tier"), len(LOYALTY_TIERS)))
            columns["loyalty_tier"] = np.where(columns["updated_at"] >= since, tier, "")
        return columns

    # --- products -------------------------------------------------------------------------------
    def _price_history(self, ids: I64) -> tuple[I64, I64, I64]:
        """The prices in cents of products ``ids`` after each repricing up to this state: the days of
        the repricings (ascending), a (repricings + 1, len(ids)) table whose row ``v`` holds the prices
        after the first ``v`` repricings, and when each product's price last changed."""
        cat = (ids - 1) % len(vocab.CATEGORIES)
        lo = np.array([vocab.PRICE_DOLLARS[c][0] for c in vocab.CATEGORIES])[cat]
        hi = np.array([vocab.PRICE_DOLLARS[c][1] for c in vocab.CATEGORIES])[cat]
        dollars = lo + below(hash_keys(ids, "products.price"), hi - lo + 1)
        changed = np.full_like(ids, NULL_TS)
        days = price_change_days(self.day)
        versions = [dollars]
        for d in days:
            moves = unit(hash_keys(ids, "products.reprice", d)) < 0.3
            percent = 5 + below(hash_keys(ids, "products.reprice_pct", d), 16)
            up = below(hash_keys(ids, "products.reprice_dir", d), 2) == 1
            new = np.where(up, dollars * (100 + percent) // 100, dollars * (100 - percent) // 100)
            new = np.where(new == dollars, np.where(up, dollars + 1, np.maximum(dollars - 1, 1)), new)
            dollars = np.where(moves, new, dollars)
            versions.append(dollars)
            at = day_start(d) + 6 * HOUR + below(hash_keys(ids, "products.reprice_time", d), HOUR)
            changed = np.where(moves, at, changed)
        return np.array(days, dtype=np.int64), np.stack(versions) * 100 + 99, changed

    @cached_property
    def _all_prices(self) -> tuple[I64, I64, I64]:
        return self._price_history(np.arange(1, PRODUCTS * self.scale + 1, dtype=np.int64))

    def price_on(self, day: I64, product_id: I64) -> I64:
        """Price in cents of each product at the end of each ``day`` (up to this state's day)."""
        if self.keys is None:  # the whole state: every product's history, once
            days, table, _ = self._all_prices
            return table[np.searchsorted(days, day, side="right"), product_id - 1]
        wanted, column = np.unique(product_id, return_inverse=True)
        days, table, _ = self._price_history(wanted)
        return table[np.searchsorted(days, day, side="right"), column]

    @cached_property
    def products(self) -> Columns:
        ids = self.ids("products")
        category = _pick(vocab.CATEGORIES, (ids - 1) % len(vocab.CATEGORIES))
        rank = (ids - 1) // len(vocab.CATEGORIES)
        nouns = np.array(
            [
                vocab.PRODUCT_NOUNS[c][r % len(vocab.PRODUCT_NOUNS[c])]
                for c, r in zip(category, rank.tolist(), strict=False)
            ],
            dtype=str,
        )
        adjective = _pick(
            vocab.PRODUCT_ADJECTIVES, below(hash_keys(ids, "products.adjective"), len(vocab.PRODUCT_ADJECTIVES))
        )
        created = spread(
            ids - 1, PRODUCTS * self.scale, PRODUCTS_SINCE, 30 * DAY - HOUR, hash_keys(ids, "products.created")
        )
        _, prices, changed = self._price_history(ids)
        return {
            "product_id": ids,
            "name": _concat(adjective, " ", nouns),
            "category": category,
            "price": prices[-1],
            "created_at": created,
            "updated_at": _latest(created, changed),
            "deleted_at": np.full_like(ids, NULL_TS),
        }

    # --- orders and their lifecycles ---------------------------------------------------------
    @cached_property
    def _payment_plan(self) -> PaymentPlan:
        return PaymentPlan.build(self.day, self.scale)

    def _order_facts(self, ids: I64) -> dict[str, np.ndarray]:
        """Everything about the orders ``ids`` (ascending): cohort, creation, customer, lifecycle event
        and day, payment, and the absolute times of their events (NULL_TS when one never happens)."""
        windows = _windows(self.day, self.scale)
        cohort, created = _created("orders", ids, cohorts("orders", self.day, self.scale), ORDERS_SINCE, 8, 12)
        window = windows.of(ids)
        event_of = np.empty_like(ids)
        relative = np.empty_like(ids)
        position = np.empty_like(ids)
        # Orders of one window are contiguous in ``ids``: rank each window's orders with its permutation.
        for lo, hi in _runs(window):
            w = int(window[lo])
            first, size, shape = int(windows.first[w]), int(windows.size[w]), windows.shapes[w]
            rank = permute(ids[lo:hi] - first, size, windows.names[w])
            bounds = np.cumsum([lc.count * self.scale for lc in shape.lifecycles])
            lifecycle = np.searchsorted(bounds, rank, side="right")
            event_of[lo:hi] = np.array([EVENTS[lc.event] for lc in shape.lifecycles])[lifecycle]
            relative[lo:hi] = np.array([lc.day for lc in shape.lifecycles])[lifecycle]
            position[lo:hi] = first - 1 + rank
        absolute = np.where(cohort == 0, relative, cohort + relative)
        payment_id, paid_at = self._payment_plan.payments_of(position)

        room = np.maximum(DAY_ONE - created, 4 * HOUR)
        hist_ship = created + HOUR + below(hash_keys(ids, "orders.ship_hist"), np.minimum(4 * DAY, room // 3))
        hist_done = (
            hist_ship
            + HOUR
            + below(
                hash_keys(ids, "orders.complete_hist"), np.minimum(6 * DAY, np.maximum((DAY_ONE - hist_ship) // 2, 1))
            )
        )
        hist_cancel = created + 2 * HOUR + below(hash_keys(ids, "orders.cancel_hist"), np.minimum(10 * DAY, room // 2))

        is_hist_shipped = np.isin(event_of, [EVENTS[e] for e in HIST_SHIPPED])
        ship = np.where(is_hist_shipped, hist_ship, NULL_TS)
        complete = np.where(event_of == EVENTS["complete_hist"], hist_done, NULL_TS)
        cancel = np.where(event_of == EVENTS["cancel_hist"], hist_cancel, NULL_TS)

        # Day cancellations (unpaid orders given up).
        day_cancel = day_start(absolute) + 7 * HOUR + below(hash_keys(ids, "orders.cancel_time"), 15 * HOUR)
        cancel = np.where(event_of == EVENTS["cancel"], day_cancel, cancel)

        # Orders shipped on a day ship when they are paid; those shipping after this state: only the
        # fact matters, the time lies past its end.
        day_shipped = event_of == EVENTS["ship"]
        ship = np.where(day_shipped, np.where(payment_id > 0, paid_at, day_start(absolute) + 9 * HOUR), ship)

        # Shipped orders complete 1-3 days later; a few are returned (cancelled after shipping).
        shipped_day = np.where(is_hist_shipped, 0, absolute)
        h_after = hash_keys(ids, "orders.after_ship")
        after_day = shipped_day + 1 + below(h_after, 3)
        after_at = day_start(after_day) + 10 * HOUR + below(hash_keys(ids, "orders.after_time"), 10 * HOUR)
        returned = unit(hash_keys(ids, "orders.returned")) < 0.06
        follows = (event_of == EVENTS["ship_hist"]) | day_shipped
        complete = np.where(follows & ~returned, after_at, complete)
        cancel = np.where(follows & returned, after_at, cancel)

        # Orders cancelled unpaid are archived (soft-deleted) two days later.
        unpaid_cancel = (event_of == EVENTS["cancel_hist"]) | (event_of == EVENTS["cancel"])
        purge = np.where(unpaid_cancel, cancel + 2 * DAY + below(hash_keys(ids, "orders.purge"), 6 * HOUR), NULL_TS)
        return {
            "order_id": ids,
            "cohort": cohort,
            "created": created,
            "customer_id": self.pick_customer(hash_keys(ids, "orders.customer"), created),
            "ship": ship,
            "complete": complete,
            "cancel": cancel,
            "purge": purge,
            "payment_id": payment_id,
            "paid_at": paid_at,
            "returned": follows & returned,
        }

    @cached_property
    def _orders(self) -> dict[str, np.ndarray]:
        self._payment_plan  # noqa: B018 - computed once, before the threads share it
        return self._in_parallel(self._order_facts, self.ids("orders"))

    @cached_property
    def orders(self) -> Columns:
        o = self._orders
        ship, complete, cancel = (_happened(o[k], self.end) for k in ("ship", "complete", "cancel"))
        deleted = _happened(o["purge"], self.end)
        code = np.zeros(o["order_id"].size, dtype=np.int64)
        code[ship != NULL_TS] = 1
        code[complete != NULL_TS] = 2
        code[cancel != NULL_TS] = 3
        return {
            "order_id": o["order_id"],
            "customer_id": o["customer_id"],
            "order_date": o["created"] // DAY,
            "status": _pick(STATUSES, code),
            "created_at": o["created"],
            "updated_at": _latest(o["created"], ship, complete, cancel, deleted),
            "deleted_at": deleted,
        }

    # --- order items ------------------------------------------------------------------------
    def _items_of_blocks(self, cohort: I64, block: I64) -> tuple[I64, I64, I64]:
        """The orders of the given (cohort, block) pairs with their item counts and first item IDs.

        Each cohort's items are split over its orders in blocks of eight: block ``k`` holds the items
        ``share(k) .. share(k + 1) - 1`` of the cohort, at least one per order, and the block's extra
        items go to hashed members. So any block's items are known without the blocks before it.
        """
        orders, items = cohorts("orders", self.day, self.scale), cohorts("order_items", self.day, self.scale)
        n, m = orders.size[cohort], items.size[cohort]
        begin = np.minimum(block * ITEMS_BLOCK, n)
        finish = np.minimum((block + 1) * ITEMS_BLOCK, n)
        share = (begin * m) // n
        size = finish - begin
        extras = (finish * m) // n - share - size
        first_row = np.cumsum(size) - size
        block_of_extra = np.repeat(np.arange(block.size), extras)
        nth = np.arange(block_of_extra.size) - np.repeat(np.cumsum(extras) - extras, extras)
        member = below(
            hash_keys(block[block_of_extra] * 4096 + nth, "order_items.extra", cohort[block_of_extra]),
            size[block_of_extra],
        )
        counts = 1 + np.bincount(first_row[block_of_extra] + member, minlength=int(size.sum()))
        row_block = np.repeat(np.arange(block.size), size)
        before = np.cumsum(counts) - counts
        within = before - before[first_row][row_block]
        order_id = orders.first[cohort][row_block] + begin[row_block] + np.arange(counts.size) - first_row[row_block]
        first_item = items.first[cohort][row_block] + share[row_block] + within
        return order_id, counts, first_item

    def _items(self, order_id: I64, counts: I64, first_item: I64) -> Columns:
        """The items of the given orders: each priced at its product's price on its order's cohort day."""
        order_index = np.repeat(np.arange(counts.size), counts)
        line = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        if self.keys is None:  # the whole state: its orders are at hand
            cohort, created = self._orders["cohort"][order_id - 1], self._orders["created"][order_id - 1]
        else:
            orders = cohorts("orders", self.day, self.scale)
            cohort, created = _created("orders", order_id, orders, ORDERS_SINCE, 8, 12)
        item_ids = first_item[order_index] + line
        n_products = PRODUCTS * self.scale
        start = below(hash_keys(order_id, "order_items.product"), n_products)
        product = (start[order_index] + line * 7) % n_products + 1
        u = unit(hash_keys(item_ids, "order_items.quantity"))
        quantity = 1 + (u >= 0.6).astype(np.int64) + (u >= 0.85) + (u >= 0.95)
        item_created = created[order_index] + line + 1
        return {
            "order_item_id": item_ids,
            "order_id": order_id[order_index],
            "product_id": product,
            "quantity": quantity,
            "unit_price": self.price_on(cohort[order_index], product),
            "created_at": item_created,
            "updated_at": item_created,
            "deleted_at": np.full_like(item_ids, NULL_TS),
        }

    @cached_property
    def order_items(self) -> Columns:
        ids = self.ids("order_items")
        if ids.size == 0:
            return self._items(*(np.zeros(0, dtype=np.int64),) * 3)
        orders, items = cohorts("orders", self.day, self.scale), cohorts("order_items", self.day, self.scale)
        pairs = []
        for c in range(int(items.of(ids[:1])[0]), int(items.of(ids[-1:])[0]) + 1):
            n, m = int(orders.size[c]), int(items.size[c])
            first = int(max(ids[0], items.first[c]) - items.first[c])
            last = int(min(ids[-1], items.first[c] + m - 1) - items.first[c])
            lo = _block_holding(first, n, m)
            hi = _block_holding(last, n, m) + 1
            pairs.append(np.arange(lo, hi, dtype=np.int64) + c * (1 << 32))
        pair = np.concatenate(pairs)
        order_id, counts, first_item = self._items_of_blocks(pair >> 32, pair & ((1 << 32) - 1))
        if self.keys is None:
            self._all_prices  # noqa: B018 - computed once, before the threads share it
        rows = self._in_parallel(
            lambda rows: self._items(order_id[rows], counts[rows], first_item[rows]),
            np.arange(order_id.size),
        )
        keep = (rows["order_item_id"] >= ids[0]) & (rows["order_item_id"] <= ids[-1])
        return rows if keep.all() else {name: values[keep] for name, values in rows.items()}

    def _order_totals(self, order_id: I64) -> I64:
        """Total in cents of each order (any order IDs)."""
        if self.keys is None:
            items = self.order_items
            totals = np.bincount(items["order_id"] - 1, weights=items["quantity"] * items["unit_price"])
            return np.rint(totals).astype(np.int64)[order_id - 1]
        orders = cohorts("orders", self.day, self.scale)
        cohort = orders.of(order_id)
        pair = np.unique(cohort * (1 << 32) + (order_id - orders.first[cohort]) // ITEMS_BLOCK)
        ids, counts, first_item = self._items_of_blocks(pair >> 32, pair & ((1 << 32) - 1))
        wanted = np.isin(ids, order_id)
        items = self._items(ids[wanted], counts[wanted], first_item[wanted])
        by_id = np.argsort(order_id)
        amount = np.bincount(
            by_id[np.searchsorted(order_id, items["order_id"], sorter=by_id)],
            weights=items["quantity"] * items["unit_price"],
            minlength=order_id.size,
        )
        return np.rint(amount).astype(np.int64)

    # --- payments -----------------------------------------------------------------------------
    def _paid_orders(self, numbers: I64) -> I64:
        """The order each payment pays: its lifecycle's run of global positions, ranked back to IDs."""
        plan, windows = self._payment_plan, _windows(self.day, self.scale)
        lifecycle, position = plan.positions_of(numbers)
        window = np.searchsorted(windows.first - 1, position, side="right") - 1
        order_id = np.empty_like(numbers)
        # A lifecycle lies inside one window, and payments of one lifecycle are contiguous.
        for lo, hi in _runs(lifecycle):
            w = int(window[lo])
            first = int(windows.first[w])
            order_id[lo:hi] = first + unpermute(position[lo:hi] - (first - 1), int(windows.size[w]), windows.names[w])
        return order_id

    @cached_property
    def payments(self) -> Columns:
        numbers = self.ids("payments")
        wanted = ("returned", "cancel", "paid_at")
        if self.keys is None:  # the whole state: every order knows its payment
            o = self._orders
            paid = o["payment_id"] > 0
            order_id = np.empty_like(numbers)
            order_id[o["payment_id"][paid] - 1] = o["order_id"][paid]
            facts = {name: o[name][order_id - 1] for name in wanted}
        else:
            order_id = self._paid_orders(numbers)
            by_id = np.argsort(order_id)
            sorted_facts = self._order_facts(order_id[by_id])
            facts = {name: np.empty_like(sorted_facts[name]) for name in wanted}
            for name in wanted:
                facts[name][by_id] = sorted_facts[name]
        voided = _happened(np.where(facts["returned"], facts["cancel"], NULL_TS), self.end)
        created = facts["paid_at"]
        weights = np.cumsum(vocab.PAYMENT_METHOD_WEIGHTS)
        method = np.searchsorted(weights, below(hash_keys(numbers, "payments.method"), 100), side="right")
        return {
            "payment_id": numbers,
            "order_id": order_id,
            "payment_method": _pick(vocab.PAYMENT_METHODS, method),
            "amount": self._order_totals(order_id),
            "created_at": created,
            "updated_at": _latest(created, voided),
            "deleted_at": voided,
        }

    # --- CRM ------------------------------------------------------------------------------------
    @cached_property
    def campaigns(self) -> Columns:
        per_wave = CAMPAIGNS * self.scale
        ids = self.ids("campaigns")
        wave = (ids - 1) // per_wave
        first_wave = wave == 0
        themes = len(vocab.CAMPAIGN_THEMES)
        theme_round = (ids - 1) // themes
        base = _pick(vocab.CAMPAIGN_THEMES, (ids - 1) % themes)
        name = _concat(base, np.where(theme_round == 0, "", _concat(" #", (theme_round + 1).astype(str))))
        # The first wave runs through the spring; each later wave is set up two weeks before its
        # launch day and runs 6-9 months.
        launch = wave * CAMPAIGN_WAVE_DAYS
        start = np.where(
            first_wave, CAMPAIGN_START + below(hash_keys(ids, "campaigns.start"), 60), day_start(launch) // DAY
        )
        end = np.where(
            first_wave,
            CAMPAIGN_END + below(hash_keys(ids, "campaigns.end"), 184),
            start + 180 + below(hash_keys(ids, "campaigns.end"), 90),
        )
        lead = np.where(
            first_wave, (start - 7 - below(hash_keys(ids, "campaigns.lead"), 21)) * DAY, day_start(launch - 14)
        )
        created = lead + 9 * HOUR + below(hash_keys(ids, "campaigns.created"), 8 * HOUR)
        return {
            "campaign_id": ids,
            "campaign_name": name,
            "start_date": start,
            "end_date": end,
            "budget": (5_000 + below(hash_keys(ids, "campaigns.budget"), 45_001)) * 100,
            "created_at": created,
            "updated_at": created,
            "deleted_at": np.full_like(ids, NULL_TS),
        }

    def _crm_rows(self, table: str, from_hour: float, hours: float) -> tuple[I64, I64, I64]:
        ids = self.ids(table)
        return (ids, *_created(table, ids, cohorts(table, self.day, self.scale), CRM_SINCE, from_hour, hours))

    def _running_campaign(self, h: U64, sent: I64) -> I64:
        """A campaign of the latest wave launched before ``sent``: one that is running then."""
        per_wave = CAMPAIGNS * self.scale
        wave = np.maximum(day_of(sent) - 1, 0) // CAMPAIGN_WAVE_DAYS
        return 1 + wave * per_wave + below(h, per_wave)

    @cached_property
    def email_activity(self) -> Columns:
        ids, _, sent = self._crm_rows("email_activity", 7, 14)
        opens = unit(hash_keys(ids, "email_activity.opens")) < 0.45
        opened_at = np.where(
            opens, sent + 5 * MINUTE + below(hash_keys(ids, "email_activity.open_delay"), 2 * DAY), NULL_TS
        )
        clicks = opens & (unit(hash_keys(ids, "email_activity.clicks")) < 0.35)
        clicked_at = np.where(
            clicks, opened_at + MINUTE + below(hash_keys(ids, "email_activity.click_delay"), 2 * HOUR), NULL_TS
        )
        opened_at, clicked_at = _happened(opened_at, self.end), _happened(clicked_at, self.end)
        return {
            "activity_id": ids,
            "customer_id": self.pick_customer(hash_keys(ids, "email_activity.customer"), sent),
            "campaign_id": self._running_campaign(hash_keys(ids, "email_activity.campaign"), sent),
            "sent_date": sent,
            "opened": opened_at != NULL_TS,
            "clicked": clicked_at != NULL_TS,
            "created_at": sent,
            "updated_at": _latest(sent, opened_at, clicked_at),
            "deleted_at": np.full_like(ids, NULL_TS),
        }

    @cached_property
    def web_sessions(self) -> Columns:
        ids, cohort, start = self._crm_rows("web_sessions", 6, 16)
        if self.profile == CDC:
            # Sessions recorded offline by the mobile app sync a day late: their timestamps lie before
            # the day they arrive on, so a watermark on updated_at misses them.
            late = (cohort > 0) & (unit(hash_keys(ids, "web_sessions.late")) < LATE_SHARE)
            start = np.where(late, start - DAY, start)
        seconds = 30 + below(hash_keys(ids, "web_sessions.duration"), 3_570)
        end = start + seconds
        columns = {
            "session_id": ids,
            "customer_id": self.pick_customer(hash_keys(ids, "web_sessions.customer"), start),
            "session_start": start,
            "session_end": end,
            "page_views": 1 + below(hash_keys(ids, "web_sessions.pages"), 12) + seconds // 600,
            "created_at": start,
            "updated_at": end,
            "deleted_at": np.full_like(ids, NULL_TS),
        }
        if self.profile != CDC:
            return columns
        # Bot traffic is purged (hard-deleted) a few days after it arrives; half of it is restored
        # from a backup a day or two later, with the same key and values and a new updated_at.
        purged = unit(hash_keys(ids, "web_sessions.purge")) < PURGE_SHARE
        purge_day = np.where(purged, cohort + 1 + below(hash_keys(ids, "web_sessions.purge_day"), 5), NEVER)
        restored = purged & (unit(hash_keys(ids, "web_sessions.restore")) < 0.5)
        restore_day = np.where(restored, purge_day + 1 + below(hash_keys(ids, "web_sessions.restore_day"), 2), NEVER)
        gone = (purge_day <= self.day) & (restore_day > self.day)
        restore_at = day_start(restore_day) + 8 * HOUR + below(hash_keys(ids, "web_sessions.restore_at"), 10 * HOUR)
        columns["updated_at"] = np.where(restore_day <= self.day, restore_at, end)
        return {name: values[~gone] for name, values in columns.items()}

    def table(self, name: str) -> Columns:
        return getattr(self, name)


# P(gap > k) = (1 - rate) ** k, as exact integer thresholds on 53 hash bits (no floating-point log).
_GAP_ODDS = fractions.Fraction(1) - fractions.Fraction(CUSTOMER_UPDATE_RATE)
_GAP_THRESHOLDS = np.array(
    list(itertools.takewhile(bool, (int(_GAP_ODDS**k * 2**53) for k in itertools.count(1))))[::-1], dtype=np.int64
)


def _runs(values: I64) -> Iterator[tuple[int, int]]:
    """The ``[lo, hi)`` bounds of each run of equal consecutive values."""
    cuts = np.flatnonzero(np.diff(values)) + 1
    yield from zip(np.r_[0, cuts].tolist(), np.r_[cuts, values.size].tolist(), strict=True) if values.size else ()


def _update_gap(h: U64) -> I64:
    """Days from one customer update to the next: geometric, at least 1."""
    u = (h >> np.uint64(11)).view(np.int64)
    return 1 + _GAP_THRESHOLDS.size - np.searchsorted(_GAP_THRESHOLDS, u, side="right")


def _update_time(ids: I64, day: int | I64) -> I64:
    return day_start(day) + 6 * HOUR + 30 * MINUTE + below(hash_keys(ids, "customers.update_time", day), 14 * HOUR)


def _block_holding(item: int, orders: int, items: int) -> int:
    """The block of eight orders that holds a cohort's ``item``-th item (counting from 0)."""
    blocks = range(-(-orders // ITEMS_BLOCK))
    return bisect.bisect_right(blocks, item, key=lambda k: (min(k * ITEMS_BLOCK, orders) * items) // orders) - 1


@lru_cache(maxsize=2)
def state(day: int, scale: int, profile: str = CLASSIC) -> Generator:
    """The generator of (day, scale, profile), kept for the next call: replaying days reuses each state
    as the next day's "before" instead of generating it twice."""
    return Generator(day, scale, profile)
