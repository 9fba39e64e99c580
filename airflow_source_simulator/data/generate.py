"""The state of every table at the end of a simulated day, as columns of NumPy arrays.

Each row's life is fixed when it is created (when an order ships, when an email is opened, when a
customer moves or leaves), as a pure function of its key. The state of day D keeps the events that
happened before the end of day D; a day's delta is the difference of two consecutive states, so
replaying days and jumping straight to a day give the same rows.

Logical representation: int and date columns are int64 (dates in days since the epoch), decimals are
int64 cents, timestamps are int64 seconds with ``NULL_TS`` for NULL, booleans are bool, text is str.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

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
from airflow_source_simulator.data.hashing import I64, U64, below, hash_keys, permute, unit
from airflow_source_simulator.data.scenario import (
    CAMPAIGN_WAVE_DAYS,
    CAMPAIGNS,
    CDC,
    CLASSIC,
    HIST_SHIPPED,
    LATE_SHARE,
    LOYALTY_TIERS,
    NEVER,
    PRODUCTS,
    PURGE_SHARE,
    SCHEMA_CHANGE_DAY,
    campaign_waves,
    cohort_volumes,
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
class Cohort:
    """The rows one cohort (0 = the baseline, else the day) adds to a table."""

    index: int
    first_id: int
    size: int

    @property
    def ids(self) -> I64:
        return np.arange(self.first_id, self.first_id + self.size, dtype=np.int64)


def cohorts(table: str, day: int, scale: int) -> list[Cohort]:
    """The cohorts of ``table`` present at the end of ``day``."""
    out, next_id = [], 1
    for index in range(day + 1):
        size = getattr(cohort_volumes(index), table) * scale
        out.append(Cohort(index, next_id, size))
        next_id += size
    return out


def _cohort_window(cohort: int, history_since: int, day_from_hour: float, hours: float) -> tuple[int, int]:
    """Start and span of the creation times of a cohort: the history, or part of its day."""
    if cohort == 0:
        return history_since, DAY_ONE - history_since - 2 * HOUR
    return day_start(cohort) + int(day_from_hour * HOUR), int(hours * HOUR)


def _created(table: str, c: Cohort, history_since: int, from_hour: float, hours: float) -> I64:
    start, span = _cohort_window(c.index, history_since, from_hour, hours)
    return spread(c.size, start, span, hash_keys(c.ids, f"{table}.created"))


@dataclass
class Generator:
    """Generates the state of one (scale, day). Cheap to build; tables are computed on first use."""

    day: int
    scale: int = 1
    profile: str = CLASSIC
    end: int = field(init=False)

    def __post_init__(self) -> None:
        self.end = state_end(self.day)

    # --- customers ------------------------------------------------------------------------------
    def _customer_cohorts(self) -> list[Cohort]:
        return cohorts("customers", self.day, self.scale)

    def _customer_window(self, c: Cohort) -> tuple[int, int]:
        return _cohort_window(c.index, CUSTOMERS_SINCE, 7, 14)

    def pick_customer(self, h: np.ndarray, at: I64) -> I64:
        """A customer that exists before ``at`` and never churns, chosen by hash ``h``."""
        existing = np.zeros_like(at)
        for c in self._customer_cohorts():
            start, span = self._customer_window(c)
            existing += count_before(at, c.size, start, span)
        churned = (existing + (CHURN_EVERY - CHURN_AT)) // CHURN_EVERY
        eligible = existing - churned
        if (eligible <= 0).any():
            raise AssertionError("a row was generated before any customer existed")
        j = below(h, eligible)
        block, slot = j // (CHURN_EVERY - 1), j % (CHURN_EVERY - 1)
        return block * CHURN_EVERY + np.where(slot < CHURN_AT - 1, slot + 1, slot + 2)

    @cached_property
    def customers(self) -> Columns:
        groups = self._customer_cohorts()
        ids = np.concatenate([c.ids for c in groups])
        cohort = np.concatenate([np.full(c.size, c.index) for c in groups])
        created = np.concatenate([_created("customers", c, CUSTOMERS_SINCE, 7, 14) for c in groups])

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
        for d in range(1, self.day + 1):
            moves = ~churn & (cohort < d) & (unit(hash_keys(ids, "customers.update", d)) < CUSTOMER_UPDATE_RATE)
            version += moves
            at = day_start(d) + 6 * HOUR + 30 * MINUTE + below(hash_keys(ids, "customers.update_time", d), 14 * HOUR)
            changed = np.where(moves, at, changed)
            married |= moves & (unit(hash_keys(ids, "customers.marry", d)) < 0.3)
        new_last = (last_idx + 1 + below(hash_keys(ids, "customers.new_last"), len(vocab.LAST_NAMES) - 1)) % len(
            vocab.LAST_NAMES
        )
        first = _pick(vocab.FIRST_NAMES, first_idx)
        last = _pick(vocab.LAST_NAMES, np.where(married, new_last, last_idx))
        domain = _pick(vocab.EMAIL_DOMAINS, version % len(vocab.EMAIL_DOMAINS))
        first_lower = _pick(tuple(n.lower() for n in vocab.FIRST_NAMES), first_idx)
        last_lower = _pick(tuple(n.lower() for n in vocab.LAST_NAMES), np.where(married, new_last, last_idx))
        email = _concat(first_lower, ".", last_lower, ids.astype(str), "@", domain)
        columns = {
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
    @cached_property
    def _product_ids(self) -> I64:
        return np.arange(1, PRODUCTS * self.scale + 1, dtype=np.int64)

    def product_prices(self, day: int) -> tuple[I64, I64]:
        """Price in cents of every product at the end of ``day``, and when it last changed."""
        ids = self._product_ids
        cat = (ids - 1) % len(vocab.CATEGORIES)
        lo = np.array([vocab.PRICE_DOLLARS[c][0] for c in vocab.CATEGORIES])[cat]
        hi = np.array([vocab.PRICE_DOLLARS[c][1] for c in vocab.CATEGORIES])[cat]
        dollars = lo + below(hash_keys(ids, "products.price"), hi - lo + 1)
        changed = np.full_like(ids, NULL_TS)
        for d in price_change_days(day):
            moves = unit(hash_keys(ids, "products.reprice", d)) < 0.3
            percent = 5 + below(hash_keys(ids, "products.reprice_pct", d), 16)
            up = below(hash_keys(ids, "products.reprice_dir", d), 2) == 1
            new = np.where(up, dollars * (100 + percent) // 100, dollars * (100 - percent) // 100)
            new = np.where(new == dollars, np.where(up, dollars + 1, np.maximum(dollars - 1, 1)), new)
            dollars = np.where(moves, new, dollars)
            at = day_start(d) + 6 * HOUR + below(hash_keys(ids, "products.reprice_time", d), HOUR)
            changed = np.where(moves, at, changed)
        return dollars * 100 + 99, changed

    @cached_property
    def products(self) -> Columns:
        ids = self._product_ids
        category = _pick(vocab.CATEGORIES, (ids - 1) % len(vocab.CATEGORIES))
        rank = (ids - 1) // len(vocab.CATEGORIES)
        nouns = np.array(
            [
                vocab.PRODUCT_NOUNS[c][r % len(vocab.PRODUCT_NOUNS[c])]
                for c, r in zip(category, rank.tolist(), strict=False)
            ]
        )
        adjective = _pick(
            vocab.PRODUCT_ADJECTIVES, below(hash_keys(ids, "products.adjective"), len(vocab.PRODUCT_ADJECTIVES))
        )
        created = spread(ids.size, PRODUCTS_SINCE, 30 * DAY - HOUR, hash_keys(ids, "products.created"))
        price, changed = self.product_prices(self.day)
        return {
            "product_id": ids,
            "name": np.char.add(np.char.add(adjective, " "), nouns),
            "category": category,
            "price": price,
            "created_at": created,
            "updated_at": _latest(created, changed),
            "deleted_at": np.full_like(ids, NULL_TS),
        }

    # --- orders and their lifecycles ---------------------------------------------------------
    @cached_property
    def _orders(self) -> dict[str, np.ndarray]:
        """Every order with its creation time, customer and lifecycle (event code, ship day).

        ``by_rank`` lists order positions window by window in rank order, so the orders of one
        lifecycle are a contiguous slice of it (see ``_lifecycle_slices``).
        """
        columns: dict[str, list[np.ndarray]] = {
            k: [] for k in ("order_id", "cohort", "created", "lifecycle", "rank", "event", "day", "by_rank")
        }
        offset = 0
        for c in cohorts("orders", self.day, self.scale):
            columns["order_id"].append(c.ids)
            columns["cohort"].append(np.full(c.size, c.index))
            columns["created"].append(_created("orders", c, ORDERS_SINCE, 8, 12))
            for w_no, window in enumerate(order_windows(c.index)):
                size = window.size * self.scale
                rank = permute(np.arange(size), size, f"orders.window.{c.index}.{w_no}")
                bounds = np.cumsum([lc.count * self.scale for lc in window.lifecycles])
                lifecycle = np.searchsorted(bounds, rank, side="right")
                relative = np.array([lc.day for lc in window.lifecycles])[lifecycle]
                by_rank = np.empty(size, dtype=np.int64)
                by_rank[rank] = np.arange(offset, offset + size)
                columns["lifecycle"].append(lifecycle)
                columns["rank"].append(rank)
                columns["by_rank"].append(by_rank)
                columns["event"].append(np.array([EVENTS[lc.event] for lc in window.lifecycles])[lifecycle])
                columns["day"].append(relative if c.index == 0 else c.index + relative)
                offset += size
        out = {k: np.concatenate(v) for k, v in columns.items()}
        out["customer_id"] = self.pick_customer(hash_keys(out["order_id"], "orders.customer"), out["created"])
        return out

    @cached_property
    def _order_events(self) -> dict[str, np.ndarray]:
        """Absolute timestamps of each order's events (NULL_TS when it never happens)."""
        o = self._orders
        ids, created = o["order_id"], o["created"]
        n = ids.size
        ship = np.full(n, NULL_TS)
        complete = np.full(n, NULL_TS)
        cancel = np.full(n, NULL_TS)
        payment_id = np.full(n, -1, dtype=np.int64)
        paid_at = np.full(n, NULL_TS)
        event_of, absolute = o["event"], o["day"]

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
        ship = np.where(is_hist_shipped, hist_ship, ship)
        complete = np.where(event_of == EVENTS["complete_hist"], hist_done, complete)
        cancel = np.where(event_of == EVENTS["cancel_hist"], hist_cancel, cancel)

        # Day cancellations (unpaid orders given up).
        day_cancel = day_start(absolute) + 7 * HOUR + below(hash_keys(ids, "orders.cancel_time"), 15 * HOUR)
        cancel = np.where(event_of == EVENTS["cancel"], day_cancel, cancel)

        # Payments: one per shipped order, numbered in the order they are taken.
        paid = paid_lifecycles(self.day, self.scale)
        members = [o["by_rank"][p.offset : p.offset + p.count] for p in paid]
        if members:
            positions = np.concatenate(members)
            payment_id[positions] = np.arange(1, positions.size + 1, dtype=np.int64)
        for day in range(1, self.day + 1):
            for backfill, (hour, hours) in ((True, (1, 1)), (False, (9, 9))):
                batch = [m for p, m in zip(paid, members, strict=True) if p.pay_day == day and p.backfill == backfill]
                if not batch:
                    continue
                positions = np.concatenate(batch)
                paid_at[positions] = spread(
                    positions.size,
                    day_start(day) + hour * HOUR,
                    hours * HOUR,
                    hash_keys(payment_id[positions], "payments.created"),
                )
        day_shipped = (event_of == EVENTS["ship"]) & (payment_id > 0)
        ship = np.where(day_shipped, paid_at, ship)
        # Orders shipping after this state: only the fact matters, the time lies past its end.
        ship = np.where((event_of == EVENTS["ship"]) & (payment_id < 0), day_start(absolute) + 9 * HOUR, ship)

        # Shipped orders complete 1-3 days later; a few are returned (cancelled after shipping).
        shipped_day = np.where(is_hist_shipped, 0, absolute)
        h_after = hash_keys(ids, "orders.after_ship")
        after_day = shipped_day + 1 + below(h_after, 3)
        after_at = day_start(after_day) + 10 * HOUR + below(hash_keys(ids, "orders.after_time"), 10 * HOUR)
        returned = unit(hash_keys(ids, "orders.returned")) < 0.06
        follows = (event_of == EVENTS["ship_hist"]) | (event_of == EVENTS["ship"])
        complete = np.where(follows & ~returned, after_at, complete)
        cancel = np.where(follows & returned, after_at, cancel)

        # Orders cancelled unpaid are archived (soft-deleted) two days later.
        unpaid_cancel = (event_of == EVENTS["cancel_hist"]) | (event_of == EVENTS["cancel"])
        purge = np.where(unpaid_cancel, cancel + 2 * DAY + below(hash_keys(ids, "orders.purge"), 6 * HOUR), NULL_TS)
        return {
            "ship": ship,
            "complete": complete,
            "cancel": cancel,
            "purge": purge,
            "payment_id": payment_id,
            "paid_at": paid_at,
            "returned": follows & returned,
        }

    @cached_property
    def orders(self) -> Columns:
        o, e = self._orders, self._order_events
        ship, complete, cancel = (_happened(e[k], self.end) for k in ("ship", "complete", "cancel"))
        deleted = _happened(e["purge"], self.end)
        code = np.zeros(o["order_id"].size, dtype=np.int64)
        code[ship != NULL_TS] = 1
        code[complete != NULL_TS] = 2
        code[cancel != NULL_TS] = 3
        status = _pick(STATUSES, code)
        return {
            "order_id": o["order_id"],
            "customer_id": o["customer_id"],
            "order_date": o["created"] // DAY,
            "status": status,
            "created_at": o["created"],
            "updated_at": _latest(o["created"], ship, complete, cancel, deleted),
            "deleted_at": deleted,
        }

    # --- order items ------------------------------------------------------------------------
    @cached_property
    def order_items(self) -> Columns:
        """Every order's items, all cohorts at once: each cohort's item count is split over its orders,
        and an item is priced at its product's price on the day its order's cohort was created."""
        o = self._orders
        order_cohorts = cohorts("orders", self.day, self.scale)
        item_cohorts = cohorts("order_items", self.day, self.scale)
        counts = np.concatenate(
            [_items_per_order(oc.size, ic.size, oc.index) for oc, ic in zip(order_cohorts, item_cohorts, strict=True)]
        )
        total = int(counts.sum())
        order_index = np.repeat(np.arange(counts.size), counts)
        line = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        order_ids = o["order_id"][order_index]
        item_ids = np.arange(1, total + 1, dtype=np.int64)
        n_products = PRODUCTS * self.scale
        start = below(hash_keys(order_ids, "order_items.product"), n_products)
        product = (start + line * 7) % n_products + 1
        u = unit(hash_keys(item_ids, "order_items.quantity"))
        quantity = 1 + (u >= 0.6).astype(np.int64) + (u >= 0.85) + (u >= 0.95)
        prices = np.stack([self.product_prices(oc.index)[0] for oc in order_cohorts])
        created = o["created"][order_index] + line + 1
        return {
            "order_item_id": item_ids,
            "order_id": order_ids,
            "product_id": product,
            "quantity": quantity,
            "unit_price": prices[o["cohort"][order_index], product - 1],
            "created_at": created,
            "updated_at": created,
            "deleted_at": np.full(total, NULL_TS),
        }

    @cached_property
    def order_totals(self) -> I64:
        """Total in cents of every order (indexed by order_id - 1)."""
        items = self.order_items
        totals = np.zeros(self._orders["order_id"].size, dtype=np.int64)
        np.add.at(totals, items["order_id"] - 1, items["quantity"] * items["unit_price"])
        return totals

    # --- payments -----------------------------------------------------------------------------
    @cached_property
    def payments(self) -> Columns:
        e = self._order_events
        paid = np.flatnonzero(e["payment_id"] > 0)
        paid = paid[np.argsort(e["payment_id"][paid], kind="stable")]
        numbers = e["payment_id"][paid]
        created = e["paid_at"][paid]
        voided = _happened(np.where(e["returned"][paid], e["cancel"][paid], NULL_TS), self.end)
        weights = np.cumsum(vocab.PAYMENT_METHOD_WEIGHTS)
        method = np.searchsorted(weights, below(hash_keys(numbers, "payments.method"), 100), side="right")
        return {
            "payment_id": numbers,
            "order_id": self._orders["order_id"][paid],
            "payment_method": _pick(vocab.PAYMENT_METHODS, method),
            "amount": self.order_totals[paid],
            "created_at": created,
            "updated_at": _latest(created, voided),
            "deleted_at": voided,
        }

    # --- CRM ------------------------------------------------------------------------------------
    @cached_property
    def campaigns(self) -> Columns:
        per_wave = CAMPAIGNS * self.scale
        ids = np.arange(1, per_wave * campaign_waves(self.day) + 1, dtype=np.int64)
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

    def _crm_cohorts(self, table: str, from_hour: float, hours: float) -> tuple[I64, I64]:
        ids, created = [], []
        for c in cohorts(table, self.day, self.scale):
            ids.append(c.ids)
            created.append(_created(table, c, CRM_SINCE, from_hour, hours))
        return np.concatenate(ids), np.concatenate(created)

    def _running_campaign(self, h: U64, sent: I64) -> I64:
        """A campaign of the latest wave launched before ``sent``: one that is running then."""
        per_wave = CAMPAIGNS * self.scale
        wave = np.maximum(day_of(sent) - 1, 0) // CAMPAIGN_WAVE_DAYS
        return 1 + wave * per_wave + below(h, per_wave)

    @cached_property
    def email_activity(self) -> Columns:
        ids, sent = self._crm_cohorts("email_activity", 7, 14)
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
        ids, start = self._crm_cohorts("web_sessions", 6, 16)
        cohort = np.concatenate([np.full(c.size, c.index) for c in cohorts("web_sessions", self.day, self.scale)])
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


def _items_per_order(orders: int, items: int, cohort: int) -> I64:
    """Split ``items`` over ``orders`` (at least one each): exact total, varied counts, O(1) per block.

    Orders are taken in blocks of eight; each block gets its share of the total, and the block's extra
    items go to hashed members of the block.
    """
    blocks = -(-orders // ITEMS_BLOCK)
    starts = np.minimum(np.arange(blocks + 1) * ITEMS_BLOCK, orders)
    share = (starts * items) // orders
    sizes = np.diff(starts)
    extras = np.diff(share) - sizes
    block_of_extra = np.repeat(np.arange(blocks), extras)
    nth = np.arange(block_of_extra.size) - np.repeat(np.cumsum(extras) - extras, extras)
    member = below(hash_keys(block_of_extra * 4096 + nth, "order_items.extra", cohort), sizes[block_of_extra])
    return 1 + np.bincount(starts[block_of_extra] + member, minlength=orders)


@lru_cache(maxsize=2)
def state(day: int, scale: int, profile: str = CLASSIC) -> Generator:
    """The generator of (day, scale, profile), kept for the next call: replaying days reuses each state
    as the next day's "before" instead of generating it twice."""
    return Generator(day, scale, profile)
