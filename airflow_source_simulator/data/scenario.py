"""Volumes and quotas of the scenario: the documented counts of days 1-3, as data, and the rule for
every later day.

Every volume is multiplied by ``scale``; at scale 1 days 0-3 are exactly the operations guide's. Days
past 3 continue in the same spirit (20-30 new customers, 50-70 orders a day, ...), each day's volumes a
pure function of the day number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import cache

import numpy as np

from airflow_source_simulator.data.hashing import below, hash_keys


class Profile(StrEnum):
    """What the days change. classic: the operations guide's days (inserts, updates, soft deletes). cdc:
    the same, plus what CDC pipelines break on: hard deletes, a deleted key that comes back, two updates
    to one key within a day, late-arriving rows, and an additive schema change on SCHEMA_CHANGE_DAY."""

    CLASSIC = "classic"
    CDC = "cdc"


CLASSIC, CDC = Profile.CLASSIC, Profile.CDC
PROFILES: tuple[Profile, ...] = tuple(Profile)
SCHEMA_CHANGE_DAY = 5
LOYALTY_TIERS = ("bronze", "silver", "gold")
LATE_SHARE = 0.1  # of each day's web sessions (exactly, rounded) arrive a day late
PURGE_SHARE = 0.03  # of web sessions are purged as bot traffic (hard-deleted)
TOUCH_MINUTES = 30  # a double update: the row is saved once, then again this much later
NEVER = 1_000_000  # a day that never comes
CLASSIC_DAYS = (1, 2, 3)
MAX_DAY = 3650  # ten simulated years


@dataclass(frozen=True)
class Volumes:
    """Rows a cohort (the baseline, or one day) inserts into each growing table, at scale 1."""

    customers: int
    orders: int
    order_items: int
    email_activity: int
    web_sessions: int


BASELINE_VOLUMES = Volumes(customers=100, orders=500, order_items=1200, email_activity=100, web_sessions=150)
DAY_VOLUMES = {
    1: Volumes(customers=25, orders=60, order_items=103, email_activity=50, web_sessions=50),
    2: Volumes(customers=22, orders=55, order_items=84, email_activity=50, web_sessions=50),
    3: Volumes(customers=28, orders=65, order_items=115, email_activity=50, web_sessions=50),
}
PRODUCTS = 20
CAMPAIGNS = 5
PRICE_CHANGE_DAYS = (2,)


# Products are repriced on day 2, and weekly after the classic days (days 9, 16, 23, ...).
REPRICE_EVERY = 7


def _day_draw(day: int, name: str, n: int) -> int:
    return int(below(hash_keys(np.array([day]), name), n)[0])


@cache
def cohort_volumes(cohort: int) -> Volumes:
    """Volumes of cohort 0 (the baseline) or of day ``cohort`` (any day >= 1)."""
    if cohort == 0:
        return BASELINE_VOLUMES
    if cohort in DAY_VOLUMES:
        return DAY_VOLUMES[cohort]
    orders = 50 + _day_draw(cohort, "volumes.orders", 21)
    return Volumes(
        customers=20 + _day_draw(cohort, "volumes.customers", 11),
        orders=orders,
        order_items=orders + orders // 2 + _day_draw(cohort, "volumes.order_items", orders // 2),
        email_activity=50,
        web_sessions=50,
    )


def price_change_days(day: int) -> list[int]:
    """The days up to ``day`` on which products are repriced."""
    return [d for d in range(1, day + 1) if d in PRICE_CHANGE_DAYS or (d > 3 and d % REPRICE_EVERY == 2)]


# --- Order lifecycles -------------------------------------------------------------------------------
# An order's whole life (when it ships, completes or is cancelled) is fixed when it is created. Each
# cohort of orders is cut into windows of consecutive IDs; a keyed permutation ranks the orders of a
# window and each rank range gets one lifecycle. The counts are exact, so the payments table (one
# payment per shipped order) has exactly the documented size on every day.
#
# A lifecycle is (event, day), its event happening on day d — an absolute day for the baseline,
# relative to the cohort's day else.


class Event(IntEnum):
    """What happens in an order's life; the values are the codes the generator's arrays hold."""

    COMPLETE_HIST = 0  # shipped and completed before day 1
    SHIP_HIST = 1  # shipped before day 1, completed later
    CANCEL_HIST = 2  # cancelled unpaid before day 1
    SHIP = 3  # shipped (and paid) on day d
    CANCEL = 4  # cancelled unpaid on day d


COMPLETE_HIST, SHIP_HIST, CANCEL_HIST, SHIP, CANCEL = tuple(Event)


@dataclass(frozen=True)
class Lifecycle:
    event: Event
    day: int
    count: int


@dataclass(frozen=True)
class Window:
    size: int
    lifecycles: tuple[Lifecycle, ...]


def _w(*lifecycles: tuple[Event, int, int]) -> Window:
    items = tuple(Lifecycle(*lc) for lc in lifecycles)
    return Window(sum(lc.count for lc in items), items)


# Each window's lifecycles as (event, day, orders), in rank order.
# fmt: off
ORDER_WINDOWS: dict[int, tuple[Window, ...]] = {
    # Baseline: the oldest orders are settled, the newest still pending.
    0: (
        _w((COMPLETE_HIST, 0, 205), (CANCEL_HIST, 0, 95)),
        _w((COMPLETE_HIST, 0, 10), (SHIP_HIST, 0, 25), (CANCEL_HIST, 0, 15), (SHIP, 1, 20), (CANCEL, 1, 5),
           (SHIP, 2, 10), (SHIP, 3, 5), (CANCEL, 2, 3), (SHIP, 4, 4), (SHIP, 5, 3)),
        _w((SHIP, 1, 12), (SHIP, 2, 10), (SHIP, 3, 11), (CANCEL, 1, 3), (CANCEL, 2, 3), (CANCEL, 3, 5),
           (SHIP, 4, 14), (SHIP, 5, 12), (SHIP, 6, 10), (SHIP, 7, 8), (SHIP, 8, 6), (CANCEL, 4, 3),
           (CANCEL, 6, 3)),
    ),
    1: (
        _w((SHIP, 1, 24), (SHIP, 2, 14), (SHIP, 3, 8), (SHIP, 4, 6), (CANCEL, 1, 3), (CANCEL, 2, 3),
           (CANCEL, 4, 2)),
    ),
    2: (
        _w((SHIP, 1, 28), (SHIP, 2, 12), (SHIP, 3, 6), (SHIP, 4, 3), (CANCEL, 1, 3), (CANCEL, 2, 3)),
    ),
    3: (
        _w((SHIP, 1, 30), (SHIP, 2, 15), (SHIP, 3, 8), (SHIP, 4, 5), (CANCEL, 1, 4), (CANCEL, 2, 3)),
    ),
}
# fmt: on

# Orders of a day past the classic ones: the share (in percent) of each lifecycle, relative days.
# fmt: off
LATER_DAY_SHARES = (
    (SHIP, 1, 40), (SHIP, 2, 22), (SHIP, 3, 12), (SHIP, 4, 8), (CANCEL, 1, 5), (CANCEL, 2, 5), (SHIP, 5, 4), (SHIP, 6, 4),
)
# fmt: on


@cache
def order_windows(cohort: int) -> tuple[Window, ...]:
    """The lifecycle windows of a cohort's orders: the classic ones, or shares of a later day's orders."""
    if cohort in ORDER_WINDOWS:
        return ORDER_WINDOWS[cohort]
    orders = cohort_volumes(cohort).orders
    counts = [orders * share // 100 for _, _, share in LATER_DAY_SHARES]
    counts[0] += orders - sum(counts)
    return (_w(*((event, day, n) for (event, day, _), n in zip(LATER_DAY_SHARES, counts, strict=True))),)


HIST_SHIPPED = (COMPLETE_HIST, SHIP_HIST)


def ship_day(cohort: int, lifecycle: Lifecycle) -> int | None:
    """The absolute day an order of this lifecycle ships (0 for the history), or None if never."""
    if lifecycle.event in HIST_SHIPPED:
        return 0
    if lifecycle.event == SHIP:
        return lifecycle.day if cohort == 0 else cohort + lifecycle.day
    return None


def _check_windows() -> None:
    for cohort in range(8):
        total = sum(w.size for w in order_windows(cohort))
        expected = cohort_volumes(cohort).orders
        if total != expected:  # pragma: no cover - a data-entry guard, checked at import
            raise AssertionError(f"order windows of cohort {cohort} hold {total} orders, not {expected}")


_check_windows()


@dataclass(frozen=True)
class PaidLifecycle:
    """The orders of one lifecycle that get paid: on ``pay_day``, at ``offset`` in rank order."""

    pay_day: int
    backfill: bool
    offset: int  # position of the lifecycle's first order, counting orders window by window in rank order
    count: int


def paid_lifecycles(through_day: int, scale: int) -> list[PaidLifecycle]:
    """Every lifecycle paid by the end of ``through_day``, in payment-ID order.

    Day 1 first backfills the orders shipped in the history (the payments system goes live on day 1,
    which is why the baseline has no payments), then pays that day's shipments; each later day pays
    its shipments. Within a day, lifecycles go by cohort, window and lifecycle.
    """
    keyed: list[tuple[tuple[int, bool, int], PaidLifecycle]] = []
    offset = 0
    for cohort in range(through_day + 1):
        for window in order_windows(cohort):
            first = offset
            for lc in window.lifecycles:
                count = lc.count * scale
                shipped = ship_day(cohort, lc)
                if shipped is not None and max(shipped, 1) <= through_day:
                    item = PaidLifecycle(max(shipped, 1), shipped == 0, first, count)
                    keyed.append(((item.pay_day, not item.backfill, len(keyed)), item))
                first += count
            offset += window.size * scale
    return [item for _, item in sorted(keyed, key=lambda pair: pair[0])]


# IDs the simulator generates stay below this at every (scale, day) it accepts: rows of your own
# with IDs from here up never collide with generated ones.
CUSTOM_ID_FLOOR = 1_000_000_000
FIXED_TABLES = {"products": PRODUCTS}
# Marketing launches a new wave of campaigns every quarter after day 1, so that every email of a long
# simulation belongs to a campaign running when it is sent.
CAMPAIGN_WAVE_DAYS = 91


CAMPAIGN_LEAD_DAYS = 14  # a wave is set up two weeks before it launches


def campaign_waves(day: int) -> int:
    """How many waves of campaigns exist at the end of ``day`` (the first is in the baseline); wave
    ``w`` launches on day ``w * CAMPAIGN_WAVE_DAYS``."""
    return 1 + (max(day, 0) + CAMPAIGN_LEAD_DAYS) // CAMPAIGN_WAVE_DAYS


def max_id(table: str, day: int, scale: int) -> int:
    """The highest ID ``table`` holds at the end of ``day`` (0 when empty): IDs are 1..max_id."""
    if table in FIXED_TABLES:
        return FIXED_TABLES[table] * scale
    if table == "payments":
        return sum(p.count for p in paid_lifecycles(day, scale))
    if table == "campaigns":
        return CAMPAIGNS * scale * campaign_waves(day)
    return sum(getattr(cohort_volumes(c), table) for c in range(day + 1)) * scale


def gains(table: str, day: int, scale: int, profile: str) -> bool:
    """Whether ``day`` may insert rows into ``table``: it grows, or (cdc) a deleted web session comes back."""
    return max_id(table, day, scale) > max_id(table, day - 1, scale) or (profile == CDC and table == "web_sessions")
