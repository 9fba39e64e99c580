"""Products: a fixed catalogue whose prices change on repricing days."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from airflow_source_simulator.data import vocabulary as vocab
from airflow_source_simulator.data.base import GeneratorBase
from airflow_source_simulator.data.calendar import DAY, HOUR, NULL_TS, day_start, spread
from airflow_source_simulator.data.cohorts import PRODUCTS_SINCE
from airflow_source_simulator.data.columns import Columns, concat, latest, pick
from airflow_source_simulator.data.hashing import I64, below, hash_keys, unit
from airflow_source_simulator.data.scenario import PRODUCTS, price_change_days


class ProductRows(GeneratorBase):
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
        category = pick(vocab.CATEGORIES, (ids - 1) % len(vocab.CATEGORIES))
        rank = (ids - 1) // len(vocab.CATEGORIES)
        nouns = np.array(
            [
                vocab.PRODUCT_NOUNS[c][r % len(vocab.PRODUCT_NOUNS[c])]
                for c, r in zip(category, rank.tolist(), strict=False)
            ],
            dtype=str,
        )
        adjective = pick(
            vocab.PRODUCT_ADJECTIVES, below(hash_keys(ids, "products.adjective"), len(vocab.PRODUCT_ADJECTIVES))
        )
        created = spread(
            ids - 1, PRODUCTS * self.scale, PRODUCTS_SINCE, 30 * DAY - HOUR, hash_keys(ids, "products.created")
        )
        _, prices, changed = self._price_history(ids)
        return {
            "product_id": ids,
            "name": concat(adjective, " ", nouns),
            "category": category,
            "price": prices[-1],
            "created_at": created,
            "updated_at": latest(created, changed),
            "deleted_at": np.full_like(ids, NULL_TS),
        }
