"""What a day changes: the difference between the states before and after it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airflow_source_simulator.data.calendar import MINUTE, NULL_TS
from airflow_source_simulator.data.generate import Columns, Generator, state
from airflow_source_simulator.data.scenario import CDC, CLASSIC, TOUCH_MINUTES
from airflow_source_simulator.schema import Table, tables_at


@dataclass(frozen=True)
class TableDelta:
    inserted: Columns  # new keys, and keys that come back after a hard delete
    updated: Columns  # the rows as they end the day
    soft_deleted: int
    soft_deleted_keys: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    hard_deleted: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))  # keys removed
    touched: Columns = field(default_factory=dict)  # an earlier save of some updated rows, the same day

    @property
    def inserted_rows(self) -> int:
        return len(next(iter(self.inserted.values())))

    @property
    def updated_rows(self) -> int:
        return len(next(iter(self.updated.values())))

    @property
    def touched_rows(self) -> int:
        return len(next(iter(self.touched.values()))) if self.touched else 0


def late_keys(table: Table, previous: Columns, inserted: Columns) -> np.ndarray:
    """Keys of the ``inserted`` rows whose ``updated_at`` is no newer than the table's high-water mark at the
    end of the day before (``previous``, its rows then): a watermark load misses them."""
    stamps = previous["updated_at"]
    if not len(stamps):
        return inserted[table.key][:0]
    return inserted[table.key][inserted["updated_at"] <= stamps.max()]


def _take(columns: Columns, mask: np.ndarray) -> Columns:
    return {name: values[mask] for name, values in columns.items()}


def _is_null(values: np.ndarray) -> np.ndarray:
    return values == ("" if values.dtype.kind == "U" else NULL_TS)


def day_delta(
    day: int, scale: int = 1, before: Generator | None = None, after: Generator | None = None, profile: str = CLASSIC
) -> dict[str, TableDelta]:
    """Rows inserted, updated and hard-deleted by ``day``, per table (keys are sorted in every state)."""
    before = before or state(day - 1, scale, profile)
    after = after or state(day, scale, profile)
    return {
        table.name: table_delta(table, before.table(table.name), after.table(table.name), profile)
        for table in tables_at(profile, day)
    }


def range_delta(day: int, scale: int, profile: str, table: Table, keys: tuple[int, int]) -> TableDelta:
    """What ``day`` changes in ``table`` among the keys ``lo <= key < hi``: each row is a function of its key,
    so a large state's delta is computed range by range, in bounded memory."""
    before = Generator(day - 1, scale, profile, keys=keys).table(table.name)
    after = Generator(day, scale, profile, keys=keys).table(table.name)
    return table_delta(table, before, after, profile)


def table_delta(table: Table, old: Columns, new: Columns, profile: str) -> TableDelta:
    """The difference of one table's rows between two consecutive states (``table`` as it is after)."""
    old_keys, new_keys = old[table.key], new[table.key]
    if old_keys.size <= new_keys.size and np.array_equal(new_keys[: old_keys.size], old_keys):
        # Nothing was hard-deleted: the old keys are the new ones' prefix (no set search needed).
        existed = np.zeros(new_keys.size, dtype=bool)
        existed[: old_keys.size] = True
        at = np.arange(old_keys.size)
    else:
        existed = np.isin(new_keys, old_keys)
        at = np.searchsorted(old_keys, new_keys[existed])
    changed = np.zeros(new_keys.size, dtype=bool)
    for column in table.column_names[1:]:
        # Values compare as their canonical text does: the logical representation is exact. A
        # column the day adds counts as NULL before it.
        now = new[column][existed]
        changed[existed] |= (now != old[column][at]) if column in old else ~_is_null(now)
    newly_deleted = (new["deleted_at"][existed] != NULL_TS) & (old["deleted_at"][at] == NULL_TS)
    updated = _take(new, changed)
    touched: Columns = {}
    if profile == CDC and table.name == "customers" and changed.any():
        # Saved twice within the day: the same row half an hour earlier, then as it ends the day.
        touched = {**updated, "updated_at": updated["updated_at"] - TOUCH_MINUTES * MINUTE}
    return TableDelta(
        inserted=_take(new, ~existed),
        updated=updated,
        soft_deleted=int(newly_deleted.sum()),
        soft_deleted_keys=new_keys[existed][newly_deleted],
        hard_deleted=old_keys[~np.isin(old_keys, new_keys)] if at.size < old_keys.size else old_keys[:0],
        touched=touched,
    )
