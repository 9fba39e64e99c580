"""What the simulator refuses, and why: each guard reads what an inspection found and raises a message
that says what is wrong and what to do. Guards change nothing; they run before any work does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from airflow_source_simulator.core.ledger import LedgerEntry
from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR, PROFILES, max_id
from airflow_source_simulator.errors import NotOursError, SimulatorError
from airflow_source_simulator.schema import LEDGER_TABLE, LEDGER_VERSION, TABLES, SchemaRole, Table
from airflow_source_simulator.version import __version__

FORCE_MEANING = "True takes over same-named tables the simulator did not create, replacing their rows"
FAST_FORWARD_MEANING = "True builds the day directly, replacing the tables' rows"
_REMEDY = (
    "Nothing was changed. Upgrade airflow-source-simulator to operate on this database, or reset it "
    "with this version: ResetOperator(force=True) reloads the baseline (the ledger keeps its history)."
)


@dataclass(frozen=True)
class Inspection:
    """What the database holds before an operation: the ledger's last entry, the tables present and their
    columns."""

    entry: LedgerEntry | None
    tables: frozenset[str]  # simulator table names present (ledger excluded)
    owned: bool  # the ledger table exists: whatever of the tables exists was created by the simulator
    # Per table present (the ledger included): each column, and whether a row must give it a value (NOT NULL
    # without a default).
    columns: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        return self.entry is not None

    def has_column(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, {})


def refuse_unreadable_ledger(entry: LedgerEntry | None, shop: str) -> None:
    """A ledger written by a newer version (a layout or a profile this one does not know)."""
    if entry is None:
        return
    if entry.ledger_version > LEDGER_VERSION:
        raise SimulatorError(
            f"{shop}.{LEDGER_TABLE} was written by airflow-source-simulator {entry.package_version} (ledger "
            f"version {entry.ledger_version}); this is {__version__} (ledger version {LEDGER_VERSION}). {_REMEDY}"
        )
    if entry.profile not in PROFILES:
        raise SimulatorError(
            f"the database holds profile {entry.profile!r} (written by airflow-source-simulator "
            f"{entry.package_version}); this is {__version__}, which serves {', '.join(PROFILES)}. {_REMEDY}"
        )


def refuse_foreign_tables(inspection: Inspection, schemas: Mapping[SchemaRole, str], force: bool) -> None:
    """Same-named tables the simulator did not create, unless ``force`` takes them over."""
    if inspection.owned or not inspection.tables or force:
        return
    found = ", ".join(f"{schemas[t.role]}.{t.name}" for t in TABLES if t.name in inspection.tables)
    raise NotOursError(
        f"{found} already exist but were not created by the source simulator (no ledger in "
        f"{schemas['shop']}.{LEDGER_TABLE}). Nothing was changed. Point the simulator at other schemas "
        "(shop_schema / crm_schema), drop those tables, or pass force=True to take them over."
    )


def refuse_other_state(entry: LedgerEntry, scale: int, profile: str) -> None:
    """An operation at another scale or profile than the database's."""
    if entry.scale != scale:
        raise SimulatorError(
            f"the database holds scale {entry.scale} (day {entry.day}); this operation asked for scale "
            f"{scale}. Nothing was changed. Give scale={entry.scale}, or reset with scale={scale}."
        )
    if entry.profile != profile:
        raise SimulatorError(
            f"the database holds the {entry.profile!r} profile (day {entry.day}); this operation asked for "
            f"{str(profile)!r}. Nothing was changed. Give profile={entry.profile!r}, or reset with "
            f"profile={str(profile)!r}."
        )


def refuse_no_baseline(day: object, schemas: Mapping[SchemaRole, str]) -> SimulatorError:
    return SimulatorError(
        f"cannot apply day {day}: no baseline in {schemas['shop']} / {schemas['crm']}. "
        "Run LoadBaselineOperator first, or pass fast_forward=True to build the day directly."
    )


def refuse_out_of_order(day: int, current: int) -> SimulatorError:
    return SimulatorError(
        f"cannot apply day {day}: the database is at day {current}. Apply day {current + 1} first "
        "(days are applied in order), or pass fast_forward=True to build the day directly."
    )


def refuse_required_columns(
    inspection: Inspection, tables: set[str], shapes: Sequence[Table], schemas: Mapping[SchemaRole, str], doing: str
) -> None:
    """Columns of the user's own that a row must fill (NOT NULL without a default) in tables the operation
    inserts into: the engine would refuse the first row, so the operation is refused before it starts."""
    by_name = {t.name: t for t in shapes}
    found = [
        f"{schemas[by_name[name].role]}.{name}.{column}"
        for name in sorted(tables)
        for column, required in inspection.columns.get(name, {}).items()
        if required and column not in by_name[name].column_names
    ]
    if found:
        raise SimulatorError(
            f"{doing} inserts rows into tables with columns of your own that every row must fill (NOT NULL without "
            f"a default): {', '.join(found)}. The simulator does not fill them, so nothing was changed. Give each "
            "a default or allow NULL (ALTER TABLE ... ALTER COLUMN ...), or drop it."
        )


@dataclass(frozen=True)
class NewIds:
    """The IDs ``day`` inserts into one table: ``lo`` to ``hi``."""

    table: Table
    lo: int
    hi: int


def new_ids(day: int, scale: int) -> list[NewIds]:
    """The ID range each table gains on ``day`` (tables that gain none left out)."""
    ranges = [NewIds(t, max_id(t.name, day - 1, scale) + 1, max_id(t.name, day, scale)) for t in TABLES]
    return [r for r in ranges if r.lo <= r.hi]


def refuse_taken_ids(
    day: int, taken: Mapping[str, int], ranges: list[NewIds], schemas: Mapping[SchemaRole, str]
) -> None:
    """Rows of the user's own on IDs the day inserts (``taken``: rows in the way per table).

    A transactional engine would roll the day back on the duplicate key; Databricks' MERGE would
    silently keep the other row. Either way the user is told which rows are in the way.
    """
    if not taken:
        return
    found = "; ".join(
        f"{schemas[r.table.role]}.{r.table.name} IDs {r.lo}-{r.hi}: {taken[r.table.name]} taken"
        for r in ranges
        if r.table.name in taken
    )
    raise SimulatorError(
        f"day {day} inserts rows whose IDs are already taken ({found}). Nothing was changed. Give rows of "
        f"your own IDs from {CUSTOM_ID_FLOOR:,} up, which the simulator never generates, or reset."
    )
