"""Reading a Delta table's change data feed and checking it against the table's states, as a feed reader would.

A reader applies ``table_changes`` to the rows it had: replaying a day's changes, commit by commit, on the rows
of the day before must give exactly the rows of the day after, and every pre-image and deleted row must be the
row the reader holds at that point (else the feed and the table disagree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from airflow_source_simulator.data.digests import TableDigest
from airflow_source_simulator.schema import Table
from airflow_source_simulator.sessions.base import Session

META = ("_change_type", "_commit_version", "_commit_timestamp")
# Within one commit a pre-image comes before its post-image; a MERGE that deletes and inserts a key does so in
# that order.
ORDER = {"delete": 0, "update_preimage": 1, "update_postimage": 2, "insert": 3}

Rows = dict[int, dict[str, Any]]


def rows(session: Session, ref: str, key: str) -> Rows:
    """The table's rows by key."""
    return {int(r[key]): r for r in session.read_arrow(f"SELECT * FROM {ref}").to_pylist()}


def latest_version(session: Session, ref: str) -> int:
    return int(session.query(f"DESCRIBE HISTORY {ref} LIMIT 1")[0][0])


def feed(session: Session, ref: str, first: int, last: int | None = None) -> pa.Table:
    """The feed from version ``first`` (to ``last`` if given), as read."""
    end = f", {last}" if last is not None else ""
    return session.read_arrow(f"SELECT * FROM table_changes('{ref}', {first}{end})")


def changes(session: Session, ref: str, first: int, last: int | None = None) -> list[dict[str, Any]]:
    """The feed's rows from version ``first`` (to ``last`` if given), in commit order."""
    return in_order(feed(session, ref, first, last))


def in_order(found: pa.Table) -> list[dict[str, Any]]:
    """A feed's rows in commit order (within a commit, pre-images before post-images)."""
    return sorted(found.to_pylist(), key=lambda c: (c["_commit_version"], ORDER[c["_change_type"]], str(c)))


def figures(state: Rows, table: Table, schema: pa.Schema) -> dict[str, Any]:
    """The manifest's figures (rows, ID range, digest) of the rows a reader holds, in ``table``'s shape, typed as
    the feed (``schema``) types them; a column added after a row was last changed reads as NULL, as it does in
    the table."""
    keys = sorted(state)
    columns = []
    for name in table.column_names:
        typed = name in schema.names and not pa.types.is_null(schema.field(name).type)
        # An empty feed (a table the day left alone) comes back with untyped columns: then its values' own types.
        columns.append(pa.array([state[k].get(name) for k in keys], type=schema.field(name).type if typed else None))
    data = pa.Table.from_arrays(columns, names=list(table.column_names))
    digest = TableDigest(table)
    digest.update(data)
    return digest.figures()


@dataclass
class Replay:
    """The rows a feed reader holds after applying changes, and what disagreed on the way."""

    state: Rows
    key: str
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    last_version: int | None = None
    versions: set[int] = field(default_factory=set)  # the commits the applied changes came in

    def apply(self, feed: list[dict[str, Any]]) -> Replay:
        for change in feed:
            kind = str(change["_change_type"])
            row = {k: v for k, v in change.items() if k not in META}
            key = int(row[self.key])
            held = self.state.get(key)
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.last_version = int(change["_commit_version"])
            self.versions.add(self.last_version)
            where = f"{kind} of key {key} at version {change['_commit_version']}"
            if kind == "insert":
                if held is not None:
                    self.problems.append(f"{where}: the key is already there")
                self.state[key] = row
            elif kind in ("update_preimage", "delete"):
                if held is None or _values(held, row) != _values(row, row):
                    self.problems.append(f"{where}: the feed's row {row} is not the row held, {held}")
                if kind == "delete":
                    self.state.pop(key, None)
            elif kind == "update_postimage":
                if held is None:
                    self.problems.append(f"{where}: the key is not there")
                self.state[key] = row
        return self

    def differences(self, expected: Rows) -> list[str]:
        """Where the replayed rows differ from ``expected`` (keys and values, over the expected columns)."""
        out = list(self.problems)
        for key in sorted(expected.keys() - self.state.keys()):
            out.append(f"key {key} is in the table but not in the replayed feed")
        for key in sorted(self.state.keys() - expected.keys()):
            out.append(f"key {key} is in the replayed feed but not in the table")
        for key in sorted(expected.keys() & self.state.keys()):
            if _values(self.state[key], expected[key]) != _values(expected[key], expected[key]):
                out.append(f"key {key}: replayed {self.state[key]}, table {expected[key]}")
        return out


def _values(row: dict[str, Any], columns: dict[str, Any]) -> tuple[Any, ...]:
    """``row``'s values over ``columns``' names; a column added later reads as NULL in rows from before it."""
    return tuple(row.get(name) for name in columns)
