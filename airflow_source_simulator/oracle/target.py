"""Where the target holds each table: its catalog read once, each table matched by name (exactly, else
ignoring case, as an engine folds unquoted names), its columns as the catalog spells them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.oracle.options import Layout
from airflow_source_simulator.schema import Table
from airflow_source_simulator.sessions.base import Session


@dataclass(frozen=True)
class Place:
    """A target table: its schema and name as the catalog spells them, and its columns."""

    schema: str
    name: str
    columns: tuple[str, ...]

    def ref(self, quote: object) -> str:
        """The table's reference, each part quoted by ``quote`` (the target dialect's)."""
        return f"{quote(self.schema)}.{quote(self.name)}"  # type: ignore[operator]


def locate(target: Session, shape: Layout, tables: Iterable[Table]) -> dict[str, Place | None]:
    """Each table's place in the target, or None where the target has no such table."""
    catalog = target.table_columns(sorted(set(shape.schemas.values())))
    out: dict[str, Place | None] = {}
    for table in tables:
        schema, name = shape.target_table(table)
        found = catalog.get((schema, name))
        if found is not None:
            out[table.name] = Place(schema, name, tuple(found))
            continue
        folded = [(s, t) for s, t in catalog if (s.lower(), t.lower()) == (schema.lower(), name.lower())]
        if len(folded) > 1:
            raise SimulatorError(
                f"the target holds {len(folded)} tables named {schema}.{name} but for case: "
                f"{', '.join(f'{s}.{t}' for s, t in sorted(folded))}; name the one to check exactly (table_name=, "
                "target_schema=). Nothing was checked."
            )
        out[table.name] = Place(folded[0][0], folded[0][1], tuple(catalog[folded[0]])) if folded else None
    return out


def columns_by_name(columns: Iterable[str]) -> dict[str, str]:
    """The target's columns by a lower-case name, so that a source column finds its target column whatever
    its case; a column spelled exactly like the lower-case name wins over one that differs in case only."""
    out: dict[str, str] = {}
    for column in columns:
        if column.lower() not in out or column == column.lower():
            out[column.lower()] = column
    return out
