"""What a day changes: the difference between the states before and after it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airflow_source_simulator.data.calendar import NULL_TS
from airflow_source_simulator.data.generate import Columns, Generator, state
from airflow_source_simulator.schema import TABLES


@dataclass(frozen=True)
class TableDelta:
    inserted: Columns
    updated: Columns
    soft_deleted: int

    @property
    def inserted_rows(self) -> int:
        return len(next(iter(self.inserted.values())))

    @property
    def updated_rows(self) -> int:
        return len(next(iter(self.updated.values())))


def _take(columns: Columns, mask: np.ndarray) -> Columns:
    return {name: values[mask] for name, values in columns.items()}


def day_delta(
    day: int, scale: int = 1, before: Generator | None = None, after: Generator | None = None
) -> dict[str, TableDelta]:
    """Rows inserted and rows updated by ``day``, per table (keys are never reused or removed)."""
    before = before or state(day - 1, scale)
    after = after or state(day, scale)
    out = {}
    for table in TABLES:
        old, new = before.table(table.name), after.table(table.name)
        kept = len(old[table.key])
        if not np.array_equal(new[table.key][:kept], old[table.key]):
            raise AssertionError(f"{table.name}: keys of day {day - 1} are not a prefix of day {day}")
        changed = np.zeros(len(new[table.key]), dtype=bool)
        for column in table.column_names[1:]:
            # Values compare as their canonical text does: the logical representation is exact.
            changed[:kept] |= new[column][:kept] != old[column]
        inserted = np.zeros_like(changed)
        inserted[kept:] = True
        newly_deleted = (new["deleted_at"][:kept] != NULL_TS) & (old["deleted_at"] == NULL_TS)
        out[table.name] = TableDelta(_take(new, inserted), _take(new, changed), int(newly_deleted.sum()))
    return out
