"""Volumes and quotas of the classic scenario: the documented counts, as data.

Every volume is multiplied by ``scale``; at scale 1 the counts are exactly the operations guide's.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSIC = "classic"
SCENARIOS = (CLASSIC,)
CLASSIC_DAYS = (1, 2, 3)


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


def cohort_volumes(cohort: int) -> Volumes:
    """Volumes of cohort 0 (the baseline) or of day ``cohort``."""
    return BASELINE_VOLUMES if cohort == 0 else DAY_VOLUMES[cohort]


# --- Order lifecycles -------------------------------------------------------------------------------
# An order's whole life (when it ships, completes or is cancelled) is fixed when it is created. Each
# cohort of orders is cut into windows of consecutive IDs; a keyed permutation ranks the orders of a
# window and each rank range gets one lifecycle. The counts are exact, so the payments table (one
# payment per shipped order) has exactly the documented size on every day.
#
# A lifecycle is (event, day): "complete_hist" shipped and completed before day 1; "ship_hist" shipped
# before day 1 and completed later; "cancel_hist" cancelled unpaid before day 1; ("ship", d) and
# ("cancel", d) happen on day d — an absolute day for the baseline, relative to the cohort's day else.


@dataclass(frozen=True)
class Lifecycle:
    event: str
    day: int
    count: int


@dataclass(frozen=True)
class Window:
    size: int
    lifecycles: tuple[Lifecycle, ...]


def _w(*lifecycles: tuple[str, int, int]) -> Window:
    items = tuple(Lifecycle(*lc) for lc in lifecycles)
    return Window(sum(lc.count for lc in items), items)


ORDER_WINDOWS: dict[int, tuple[Window, ...]] = {
    # Baseline: the oldest orders are settled, the newest still pending.
    0: (
        _w(("complete_hist", 0, 205), ("cancel_hist", 0, 95)),
        _w(
            ("complete_hist", 0, 10),
            ("ship_hist", 0, 25),
            ("cancel_hist", 0, 15),
            ("ship", 1, 20),
            ("cancel", 1, 5),
            ("ship", 2, 10),
            ("ship", 3, 5),
            ("cancel", 2, 3),
            ("ship", 4, 4),
            ("ship", 5, 3),
        ),
        _w(
            ("ship", 1, 12),
            ("ship", 2, 10),
            ("ship", 3, 11),
            ("cancel", 1, 3),
            ("cancel", 2, 3),
            ("cancel", 3, 5),
            ("ship", 4, 14),
            ("ship", 5, 12),
            ("ship", 6, 10),
            ("ship", 7, 8),
            ("ship", 8, 6),
            ("cancel", 4, 3),
            ("cancel", 6, 3),
        ),
    ),
    1: (
        _w(
            ("ship", 1, 24),
            ("ship", 2, 14),
            ("ship", 3, 8),
            ("ship", 4, 6),
            ("cancel", 1, 3),
            ("cancel", 2, 3),
            ("cancel", 4, 2),
        ),
    ),
    2: (
        _w(
            ("ship", 1, 28),
            ("ship", 2, 12),
            ("ship", 3, 6),
            ("ship", 4, 3),
            ("cancel", 1, 3),
            ("cancel", 2, 3),
        ),
    ),
    3: (
        _w(
            ("ship", 1, 30),
            ("ship", 2, 15),
            ("ship", 3, 8),
            ("ship", 4, 5),
            ("cancel", 1, 4),
            ("cancel", 2, 3),
        ),
    ),
}

HIST_SHIPPED = ("complete_hist", "ship_hist")


def ship_day(cohort: int, lifecycle: Lifecycle) -> int | None:
    """The absolute day an order of this lifecycle ships (0 for the history), or None if never."""
    if lifecycle.event in HIST_SHIPPED:
        return 0
    if lifecycle.event == "ship":
        return lifecycle.day if cohort == 0 else cohort + lifecycle.day
    return None


def _check_windows() -> None:
    for cohort, windows in ORDER_WINDOWS.items():
        total = sum(w.size for w in windows)
        expected = cohort_volumes(cohort).orders
        if total != expected:  # pragma: no cover - a data-entry guard, checked at import
            raise AssertionError(f"order windows of cohort {cohort} hold {total} orders, not {expected}")


_check_windows()
