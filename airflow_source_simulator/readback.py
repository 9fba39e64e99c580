"""Reading a source back: the simulator's rows of each table as figures (rows, ID range, content digest),
and the rows of the user's own (IDs from the custom floor), which the figures leave out."""

from __future__ import annotations

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


def simulator_rows(session: Session, source: Source, table: Table) -> dict[str, Any]:
    """The figures of the simulator's rows of ``table`` (keys below the custom floor), in the manifest's terms:
    read through Arrow in key ranges and digested chunk by chunk, in bounded memory."""
    top = session.query(f"SELECT MAX({table.key}) FROM {source.ref(table)} WHERE {table.key} < {CUSTOM_ID_FLOOR}")
    highest = int(top[0][0]) if top and top[0][0] is not None else 0
    figures = TableDigest(table)
    for lo in range(1, highest + 1, CHUNK_KEYS):
        where = f" WHERE {table.key} >= {lo} AND {table.key} < {min(lo + CHUNK_KEYS, CUSTOM_ID_FLOOR)}"
        figures.update(session.read_arrow(source.rows_query(table, where)))
    return figures.figures()


def custom_rows(session: Session, source: Source, tables: list[Table]) -> dict[str, int]:
    """How many rows of the user's own (keys from the custom floor) each table holds."""
    if not tables:
        return {}
    sql = " UNION ALL ".join(
        f"SELECT '{t.name}', COUNT(*) FROM {source.ref(t)} WHERE {t.key} >= {CUSTOM_ID_FLOOR}" for t in tables
    )
    return {str(name): int(count) for name, count in session.query(sql)}
