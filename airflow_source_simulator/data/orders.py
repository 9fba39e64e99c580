"""Orders, their items and their payments: each order's whole life is fixed when it is created."""

from __future__ import annotations

import bisect
from functools import cached_property

import numpy as np

from airflow_source_simulator.data import vocabulary as vocab
from airflow_source_simulator.data.calendar import DAY, DAY_ONE, HOUR, NULL_TS, day_start
from airflow_source_simulator.data.cohorts import ORDERS_SINCE, PaymentPlan, cohorts, created_times, window_table
from airflow_source_simulator.data.columns import Columns, happened, latest, pick, runs
from airflow_source_simulator.data.customers import CustomerRows
from airflow_source_simulator.data.hashing import I64, below, hash_keys, permute, unit, unpermute
from airflow_source_simulator.data.products import ProductRows
from airflow_source_simulator.data.scenario import (
    CANCEL,
    CANCEL_HIST,
    COMPLETE_HIST,
    HIST_SHIPPED,
    PRODUCTS,
    SHIP,
    SHIP_HIST,
)

ITEMS_BLOCK = 8


class OrderRows(CustomerRows, ProductRows):
    @cached_property
    def _payment_plan(self) -> PaymentPlan:
        return PaymentPlan.build(self.day, self.scale)

    def _order_facts(self, ids: I64) -> dict[str, np.ndarray]:
        """Everything about the orders ``ids`` (ascending): cohort, creation, customer, lifecycle event
        and day, payment, and the absolute times of their events (NULL_TS when one never happens)."""
        windows = window_table(self.day, self.scale)
        cohort, created = created_times("orders", ids, cohorts("orders", self.day, self.scale), ORDERS_SINCE, 8, 12)
        window = windows.of(ids)
        event_of = np.empty_like(ids)
        relative = np.empty_like(ids)
        position = np.empty_like(ids)
        # Orders of one window are contiguous in ``ids``: rank each window's orders with its permutation.
        for lo, hi in runs(window):
            w = int(window[lo])
            first, size, shape = int(windows.first[w]), int(windows.size[w]), windows.shapes[w]
            rank = permute(ids[lo:hi] - first, size, windows.names[w])
            bounds = np.cumsum([lc.count * self.scale for lc in shape.lifecycles])
            lifecycle = np.searchsorted(bounds, rank, side="right")
            event_of[lo:hi] = np.array([lc.event for lc in shape.lifecycles])[lifecycle]
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

        is_hist_shipped = np.isin(event_of, list(HIST_SHIPPED))
        ship = np.where(is_hist_shipped, hist_ship, NULL_TS)
        complete = np.where(event_of == COMPLETE_HIST, hist_done, NULL_TS)
        cancel = np.where(event_of == CANCEL_HIST, hist_cancel, NULL_TS)

        # Day cancellations (unpaid orders given up).
        day_cancel = day_start(absolute) + 7 * HOUR + below(hash_keys(ids, "orders.cancel_time"), 15 * HOUR)
        cancel = np.where(event_of == CANCEL, day_cancel, cancel)

        # Orders shipped on a day ship when they are paid; those shipping after this state: only the
        # fact matters, the time lies past its end.
        day_shipped = event_of == SHIP
        ship = np.where(day_shipped, np.where(payment_id > 0, paid_at, day_start(absolute) + 9 * HOUR), ship)

        # Shipped orders complete 1-3 days later; a few are returned (cancelled after shipping).
        shipped_day = np.where(is_hist_shipped, 0, absolute)
        h_after = hash_keys(ids, "orders.after_ship")
        after_day = shipped_day + 1 + below(h_after, 3)
        after_at = day_start(after_day) + 10 * HOUR + below(hash_keys(ids, "orders.after_time"), 10 * HOUR)
        returned = unit(hash_keys(ids, "orders.returned")) < 0.06
        follows = (event_of == SHIP_HIST) | day_shipped
        complete = np.where(follows & ~returned, after_at, complete)
        cancel = np.where(follows & returned, after_at, cancel)

        # Orders cancelled unpaid are archived (soft-deleted) two days later.
        unpaid_cancel = (event_of == CANCEL_HIST) | (event_of == CANCEL)
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
        ship, complete, cancel = (happened(o[k], self.end) for k in ("ship", "complete", "cancel"))
        deleted = happened(o["purge"], self.end)
        code = np.zeros(o["order_id"].size, dtype=np.int64)
        code[ship != NULL_TS] = 1
        code[complete != NULL_TS] = 2
        code[cancel != NULL_TS] = 3
        return {
            "order_id": o["order_id"],
            "customer_id": o["customer_id"],
            "order_date": o["created"] // DAY,
            "status": pick(vocab.ORDER_STATUSES, code),
            "created_at": o["created"],
            "updated_at": latest(o["created"], ship, complete, cancel, deleted),
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
            cohort, created = created_times("orders", order_id, orders, ORDERS_SINCE, 8, 12)
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
        if self.keys is None:  # computed once, before the threads share them
            self._all_prices  # noqa: B018
            self._orders  # noqa: B018
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
        plan, windows = self._payment_plan, window_table(self.day, self.scale)
        lifecycle, position = plan.positions_of(numbers)
        window = np.searchsorted(windows.first - 1, position, side="right") - 1
        order_id = np.empty_like(numbers)
        # A lifecycle lies inside one window, and payments of one lifecycle are contiguous.
        for lo, hi in runs(lifecycle):
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
        voided = happened(np.where(facts["returned"], facts["cancel"], NULL_TS), self.end)
        created = facts["paid_at"]
        weights = np.cumsum(vocab.PAYMENT_METHOD_WEIGHTS)
        method = np.searchsorted(weights, below(hash_keys(numbers, "payments.method"), 100), side="right")
        return {
            "payment_id": numbers,
            "order_id": order_id,
            "payment_method": pick(vocab.PAYMENT_METHODS, method),
            "amount": self._order_totals(order_id),
            "created_at": created,
            "updated_at": latest(created, voided),
            "deleted_at": voided,
        }


def _block_holding(item: int, orders: int, items: int) -> int:
    """The block of eight orders that holds a cohort's ``item``-th item (counting from 0)."""
    blocks = range(-(-orders // ITEMS_BLOCK))
    return bisect.bisect_right(blocks, item, key=lambda k: (min(k * ITEMS_BLOCK, orders) * items) // orders) - 1
