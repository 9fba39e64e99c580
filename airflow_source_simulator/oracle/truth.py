"""The ground truth a pipeline's target is checked against, from the generator alone (no database).

For a state (day, scale, profile) it gives each table's expected rows (``replica``) or every end-of-day
version with its validity interval (``scd2``), and the simulated facts that explain a miss: which rows
arrived late, which keys were hard-deleted or restored, which rows were saved twice, soft-deleted or
updated on which day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa

from airflow_source_simulator.data.arrow import to_arrow
from airflow_source_simulator.data.calendar import NULL_TS, day_of
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.data.generate import state
from airflow_source_simulator.data.scenario import SCHEMA_CHANGE_DAY, Profile
from airflow_source_simulator.data.stream import key_ranges, state_chunks, streamed
from airflow_source_simulator.schema import LOYALTY_TIER, Table, tables_at

# Columns the scd2 truth adds to a table's own: when each version became valid, and when it stopped being.
VALID_FROM = "valid_from"
VALID_TO = "valid_to"
# A version whose key was hard-deleted: it must be closed, at a time the snapshot tool chooses.
CLOSED = "closed"


@dataclass
class Facts:
    """What happened to one table's keys by the state's day, for explaining a discrepancy."""

    arrived: dict[int, int] = field(default_factory=dict)  # key -> the day its current row was inserted
    late: dict[int, tuple[int, int]] = field(default_factory=dict)  # key -> (day it arrived, its updated_at)
    watermarks: dict[int, int] = field(default_factory=dict)  # day -> the table's max updated_at at its end
    hard_deleted: dict[int, int] = field(default_factory=dict)  # key -> day it was deleted (and is gone)
    restored: dict[int, tuple[int, int]] = field(default_factory=dict)  # key -> (day deleted, day back)
    saved_twice: dict[int, int] = field(default_factory=dict)  # key -> last day it was saved twice
    soft_deleted: dict[int, int] = field(default_factory=dict)  # key -> day it was soft-deleted


@dataclass(frozen=True)
class Truth:
    """The ground truth of the state (day, scale, profile)."""

    day: int
    scale: int
    profile: Profile

    def tables(self) -> tuple[Table, ...]:
        return tables_at(self.profile, self.day)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables() if t.name == name)

    def rows(self, name: str) -> pa.Table:
        """The table's rows at the end of the day (``replica``)."""
        return to_arrow(self.table(name), state(self.day, self.scale, self.profile).table(name))

    def count(self, name: str) -> int:
        """How many rows the table holds at the end of the day (generated for this: asked only of a table the
        target lacks)."""
        return sum(rows.num_rows for rows, _, _ in self.row_chunks(name))

    def row_chunks(self, name: str) -> Iterator[tuple[pa.Table, int | None, int | None]]:
        """The table's rows at the end of the day, chunk by chunk, each with the keys it covers, ``low <= key <
        high``: the first chunk has no ``low`` and the last no ``high``, so together they cover every key. The
        whole table is one chunk for a state generated whole, else it comes key range by key range, so that a
        state of any size is checked in bounded memory."""
        if not streamed(self.day, self.scale):
            yield self.rows(name), None, None
            return
        table = self.table(name)
        ranges = key_ranges(name, self.day, self.scale)
        chunks = state_chunks(self.day, self.scale, self.profile, table)
        for number, ((lo, hi), columns) in enumerate(zip(ranges, chunks, strict=True)):
            yield to_arrow(table, columns), lo if number else None, hi if number < len(ranges) - 1 else None

    def schema_change(self, name: str) -> int | None:
        """The day the profile's schema change added a column to ``name``, if it did by this state."""
        added = name == "customers" and LOYALTY_TIER.name in self.table(name).column_names
        return SCHEMA_CHANGE_DAY if added else None

    @cached_property
    def _history(self) -> tuple[dict[str, Facts], dict[str, list[dict[str, np.ndarray]]]]:
        """Every day's changes, once: the facts per table, and the end-of-day versions per table (the state
        of day 0, then each day's inserted and updated rows)."""
        facts = {t.name: Facts() for t in self.tables()}
        versions: dict[str, list[dict[str, np.ndarray]]] = {t.name: [] for t in self.tables()}
        baseline = state(0, self.scale, self.profile)
        for table in tables_at(self.profile, 0):
            columns = baseline.table(table.name)
            versions[table.name].append(columns)
            facts[table.name].watermarks[0] = _max(columns["updated_at"])
            for key in columns[table.key][columns["deleted_at"] != NULL_TS].tolist():
                facts[table.name].soft_deleted[key] = 0
        deleted_on: dict[str, dict[int, int]] = {t.name: {} for t in self.tables()}
        for day in range(1, self.day + 1):
            for name, change in day_delta(day, self.scale, profile=self.profile).items():
                table, fact = self.table(name), facts[name]
                keys = change.inserted[table.key]
                updated_at = change.inserted["updated_at"]
                previous = fact.watermarks.get(day - 1, int(NULL_TS))
                born_deleted = keys[change.inserted["deleted_at"] != NULL_TS].tolist()  # inserted soft-deleted
                for key in born_deleted:
                    fact.soft_deleted[key] = day
                for key, stamp in zip(keys.tolist(), updated_at.tolist(), strict=True):
                    fact.arrived[key] = day
                    if key in deleted_on[name]:
                        fact.restored[key] = (deleted_on[name].pop(key), day)
                        fact.hard_deleted.pop(key, None)
                    elif stamp <= previous:
                        fact.late[key] = (day, stamp)
                for key in change.hard_deleted.tolist():
                    deleted_on[name][key] = day
                    fact.hard_deleted[key] = day
                if change.touched_rows:
                    for key in change.touched[table.key].tolist():
                        fact.saved_twice[key] = day
                for key in change.soft_deleted_keys.tolist():
                    fact.soft_deleted[key] = day
                if change.inserted_rows or change.updated_rows:
                    versions[name] += [change.inserted, change.updated]
                updated = _max(change.updated["updated_at"]) if change.updated_rows else int(NULL_TS)
                fact.watermarks[day] = max(previous, _max(updated_at), updated)
        return facts, versions

    def facts(self, name: str) -> Facts:
        return self._history[0][name]

    def versions(self, name: str) -> pa.Table:
        """Every end-of-day version of the table's rows (``scd2``), with ``valid_from`` (the version's
        ``updated_at``), ``valid_to`` (the next version's ``valid_from``, or NULL while current) and
        ``closed`` (the key was hard-deleted after this version: it must be closed, at any time)."""
        table = self.table(name)
        parts = [p for p in self._history[1][name] if len(p[table.key])]
        if not parts:  # a table without a row yet (payments at the baseline): the state's empty columns
            parts = [state(self.day, self.scale, self.profile).table(name)]
        columns = {
            c.name: np.concatenate([p.get(c.name, _nulls(c, len(p[table.key]))) for p in parts]) for c in table.columns
        }
        order = np.lexsort((columns["updated_at"], columns[table.key]))
        columns = {n: v[order] for n, v in columns.items()}
        keys = columns[table.key]
        valid_to = np.full(keys.size, NULL_TS, dtype=np.int64)
        if keys.size > 1:  # a version ends where the next version of the same key begins
            valid_to[:-1] = np.where(keys[1:] == keys[:-1], columns["updated_at"][1:], NULL_TS)
        facts = self.facts(name)
        gone = {**facts.hard_deleted, **{k: d for k, (d, _) in facts.restored.items()}}
        closed = np.zeros(keys.size, dtype=bool)
        if gone:
            # The last version before each deletion: the key's version that was current on its deletion day.
            deleted = np.array(list(gone), dtype=np.int64)
            on = np.array([gone[k] for k in gone], dtype=np.int64)
            before = np.searchsorted(keys, deleted, side="right") - 1
            for index, key, day in zip(before.tolist(), deleted.tolist(), on.tolist(), strict=True):
                while index >= 0 and keys[index] == key and day_of(np.array([columns["updated_at"][index]]))[0] >= day:
                    index -= 1
                if index >= 0 and keys[index] == key:
                    closed[index] = True
                    valid_to[index] = NULL_TS
        out = to_arrow(table, columns)
        stamp = pa.timestamp("s")
        return (
            out.append_column(VALID_FROM, out.column("updated_at"))
            .append_column(VALID_TO, pa.array(valid_to.astype("datetime64[s]"), type=stamp, mask=valid_to == NULL_TS))
            .append_column(CLOSED, pa.array(closed))
        )


def _max(values: np.ndarray) -> int:
    return int(values.max()) if values.size else int(NULL_TS)


def _nulls(column: object, n: int) -> np.ndarray:
    """A column a part does not have (the schema change's, before its day): NULL, as text."""
    return np.full(n, "", dtype=object)
