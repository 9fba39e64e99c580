"""Customers: sign-ups by cohort, churn (the soft-deleted customers), moves and marriages."""

from __future__ import annotations

import fractions
import itertools
from functools import cached_property

import numpy as np

from airflow_source_simulator.data import vocabulary as vocab
from airflow_source_simulator.data.base import GeneratorBase
from airflow_source_simulator.data.calendar import DAY_ONE, HOUR, MINUTE, NULL_TS, count_before, day_start
from airflow_source_simulator.data.cohorts import CUSTOMERS_SINCE, cohort_window, cohorts, created_times
from airflow_source_simulator.data.columns import Columns, concat, happened, latest, pick
from airflow_source_simulator.data.hashing import I64, U64, below, hash_keys, unit
from airflow_source_simulator.data.scenario import CDC, CLASSIC_DAYS, LOYALTY_TIERS, SCHEMA_CHANGE_DAY

# Every 20th customer (IDs 13, 33, ...) signs up, never buys or engages, and closes the account:
# the soft-deleted customers. Nothing ever references them, so no active row points at a deleted one.
CHURN_EVERY = 20
CHURN_AT = 13
CUSTOMER_UPDATE_RATE = 0.05


class CustomerRows(GeneratorBase):
    def pick_customer(self, h: np.ndarray, at: I64) -> I64:
        """A customer that exists before ``at`` and never churns, chosen by hash ``h``.

        Cohorts sign up in disjoint, ordered windows: the customers before ``at`` are every earlier
        cohort and part of the last cohort whose window has begun.
        """
        groups = cohorts("customers", self.day, self.scale)
        starts, spans = cohort_window(np.arange(groups.size.size), CUSTOMERS_SINCE, 7, 14)
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
        cohort, created = created_times(
            "customers", ids, cohorts("customers", self.day, self.scale), CUSTOMERS_SINCE, 7, 14
        )

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
        deleted = happened(np.where(churn, np.where(leave_day == 0, in_history, on_day), NULL_TS), self.end)

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
        first = pick(vocab.FIRST_NAMES, first_idx)
        last = pick(vocab.LAST_NAMES, np.where(married, new_last, last_idx))
        domain = pick(vocab.EMAIL_DOMAINS, version % len(vocab.EMAIL_DOMAINS))
        first_lower = pick(tuple(n.lower() for n in vocab.FIRST_NAMES), first_idx)
        last_lower = pick(tuple(n.lower() for n in vocab.LAST_NAMES), np.where(married, new_last, last_idx))
        email = concat(first_lower, ".", last_lower, ids.astype(str), "@", domain)
        columns: Columns = {
            "customer_id": ids,
            "first_name": first,
            "last_name": last,
            "email": email,
            "created_at": created,
            "updated_at": latest(created, changed, deleted),
            "deleted_at": deleted,
        }
        if self.profile == CDC and self.day >= SCHEMA_CHANGE_DAY:
            # The additive schema change: a nullable column, filled for customers who sign up or
            # change since it exists; older rows keep NULL ("").
            since = day_start(SCHEMA_CHANGE_DAY)
            tier = pick(LOYALTY_TIERS, below(hash_keys(ids * 1024 + version, "customers.tier"), len(LOYALTY_TIERS)))
            columns["loyalty_tier"] = np.where(columns["updated_at"] >= since, tier, "")
        return columns


# P(gap > k) = (1 - rate) ** k, as exact integer thresholds on 53 hash bits (no floating-point log).
_GAP_ODDS = fractions.Fraction(1) - fractions.Fraction(CUSTOMER_UPDATE_RATE)
_GAP_THRESHOLDS = np.array(
    list(itertools.takewhile(bool, (int(_GAP_ODDS**k * 2**53) for k in itertools.count(1))))[::-1], dtype=np.int64
)


def _update_gap(h: U64) -> I64:
    """Days from one customer update to the next: geometric, at least 1."""
    u = (h >> np.uint64(11)).view(np.int64)
    return 1 + _GAP_THRESHOLDS.size - np.searchsorted(_GAP_THRESHOLDS, u, side="right")


def _update_time(ids: I64, day: int | I64) -> I64:
    return day_start(day) + 6 * HOUR + 30 * MINUTE + below(hash_keys(ids, "customers.update_time", day), 14 * HOUR)
