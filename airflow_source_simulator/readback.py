"""Reading a source back: the simulator's rows of each table as figures (rows, ID range, content digest),
and the rows of the user's own (IDs from the custom floor), which the figures leave out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_source_simulator.core.plans import Source
from airflow_source_simulator.data.canonical import digest, format_fetched_rows
from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR
from airflow_source_simulator.schema import Table
from airflow_source_simulator.sessions.base import Session


@dataclass(frozen=True)
class Figures:
    """What one table holds of the simulator's rows."""

    rows: int
    min_id: int | None
    max_id: int | None
    digest: str

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "min_id": self.min_id, "max_id": self.max_id, "digest": self.digest}


def describe(figures: dict[str, Any]) -> str:
    ids = "no IDs" if figures["min_id"] is None else f"IDs {figures['min_id']}-{figures['max_id']}"
    return f"{figures['rows']} rows ({ids}, digest {figures['digest'][:12]})"


def simulator_rows(session: Session, source: Source, table: Table) -> Figures:
    """The figures of the simulator's rows of ``table`` (keys below the custom floor), in the manifest's terms."""
    rows = session.query(source.rows_query(table, f" WHERE {table.key} < {CUSTOM_ID_FLOOR}"))
    keys = [r[0] for r in rows]
    return Figures(
        len(rows), min(keys) if keys else None, max(keys) if keys else None, digest(format_fetched_rows(table, rows))
    )


def custom_rows(session: Session, source: Source, tables: list[Table]) -> dict[str, int]:
    """How many rows of the user's own (keys from the custom floor) each table holds."""
    if not tables:
        return {}
    sql = " UNION ALL ".join(
        f"SELECT '{t.name}', COUNT(*) FROM {source.ref(t)} WHERE {t.key} >= {CUSTOM_ID_FLOOR}" for t in tables
    )
    return {str(name): int(count) for name, count in session.query(sql)}
