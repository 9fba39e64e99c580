"""Reading a source back: each table's counts (its rows, the rows of the user's own, which the figures leave
out, and the highest key of the simulator's), and the simulator's rows of each table as figures (rows, ID
range, content digest)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_source_simulator.core.plans import Source
from airflow_source_simulator.data.digests import TableDigest
from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR
from airflow_source_simulator.data.stream import CHUNK_KEYS
from airflow_source_simulator.schema import Table
from airflow_source_simulator.sessions.base import Session


def describe(figures: dict[str, Any]) -> str:
    ids = "no IDs" if figures["min_id"] is None else f"IDs {figures['min_id']}-{figures['max_id']}"
    return f"{figures['rows']} rows ({ids}, digest {figures['digest'][:12]})"


@dataclass(frozen=True)
class Counts:
    """What one scan of a table tells: its rows, the rows of the user's own (keys from the custom floor) and
    the highest key below the floor (0: none)."""

    rows: int
    custom: int
    highest: int


def counts(session: Session, source: Source, tables: Sequence[Table]) -> dict[str, Counts]:
    """The counts of each of ``tables``, in one statement."""
    if not tables:
        return {}
    return {
        str(name): Counts(int(rows), int(custom or 0), int(highest or 0))
        for name, rows, custom, highest in session.query(source.counts_query(tables))
    }


def simulator_rows(session: Session, source: Source, table: Table, highest: int) -> dict[str, Any]:
    """The figures of the simulator's rows of ``table`` (keys up to ``highest``, below the custom floor), in the
    manifest's terms: read through Arrow in key ranges and digested chunk by chunk, in bounded memory."""
    figures = TableDigest(table)
    for lo in range(1, highest + 1, CHUNK_KEYS):
        where = f" WHERE {table.key} >= {lo} AND {table.key} < {min(lo + CHUNK_KEYS, CUSTOM_ID_FLOOR)}"
        figures.update(session.read_arrow(source.rows_query(table, where)))
    return figures.figures()
