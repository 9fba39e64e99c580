"""The four operations, on any platform: what the operators delegate to.

Every operation checks the ledger before it touches data, and its last statement writes the ledger.
Where the engine has transactions the operation is one of them, so a failure leaves the previous
state; where it has none (Databricks) every statement is idempotent, so a retry completes it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from airflow_source_simulator import packaged
from airflow_source_simulator.data.canonical import digest, format_fetched_rows
from airflow_source_simulator.data.scenario import CLASSIC, CLASSIC_DAYS
from airflow_source_simulator.errors import NotOursError, SimulatorError, VerificationError
from airflow_source_simulator.ledger import Ledger, LedgerEntry
from airflow_source_simulator.names import validate_schema_name
from airflow_source_simulator.platforms.base import Platform
from airflow_source_simulator.render import day_file
from airflow_source_simulator.report import status_box, step_line
from airflow_source_simulator.schema import LEDGER_TABLE, LEDGER_VERSION, TABLES, Table
from airflow_source_simulator.statements import Statement, Step
from airflow_source_simulator.version import __version__

SCALE = 1
NEXT_DAY = "next"

F = TypeVar("F", bound=Callable[..., Any])


def _in_session(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: Simulator, *args: Any, **kwargs: Any) -> Any:
        with self.platform.session():
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


def parse_day(value: object) -> int:
    """A delta day from an int or an integer string (a rendered template); anything else is refused."""
    allowed = f"a whole number from {CLASSIC_DAYS[0]} to {CLASSIC_DAYS[-1]}"
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise SimulatorError(f"day={value!r} is not valid: give {allowed}.")
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("+-").isdigit():
            raise SimulatorError(f"day={value!r} is not a whole number: give {allowed}.")
        value = int(text)
    if not isinstance(value, int):
        raise SimulatorError(f"day={value!r} is not valid: give {allowed}.")
    if value not in CLASSIC_DAYS:
        raise SimulatorError(
            f"day={value} is outside the {CLASSIC} scenario, which has days {CLASSIC_DAYS[0]}-{CLASSIC_DAYS[-1]}."
        )
    return value


@dataclass(frozen=True)
class Inspection:
    """What the database holds before an operation: the ledger's last entry and the tables present."""

    entry: LedgerEntry | None
    tables: set[str]  # simulator table names present (ledger excluded)
    owned: bool  # the ledger table exists: whatever of the tables exists was created by the simulator

    @property
    def loaded(self) -> bool:
        return self.entry is not None


class Simulator:
    def __init__(
        self,
        platform: Platform,
        *,
        shop_schema: str = "jaffle_shop",
        crm_schema: str = "jaffle_crm",
        enable_cdc: bool | str = False,
        log: logging.Logger | Any | None = None,
    ) -> None:
        self.platform = platform
        self.schemas = {
            "shop": platform.fold(validate_schema_name(shop_schema, "shop_schema")),
            "crm": platform.fold(validate_schema_name(crm_schema, "crm_schema")),
        }
        self.cdc_mode = platform.cdc_mode(enable_cdc)
        self.log = log or logging.getLogger(__name__)
        self.ledger = Ledger(platform, platform.quote(self.schemas["shop"]))

    # --- names ----------------------------------------------------------------------------------
    def qualified(self, table: Table) -> str:
        return f"{self.schemas[table.role]}.{table.name}"

    def ref(self, table: Table) -> str:
        return f"{self.platform.quote(self.schemas[table.role])}.{table.name}"

    # --- inspection -----------------------------------------------------------------------------
    def inspect(self) -> Inspection:
        present = self.platform.existing_tables(sorted(set(self.schemas.values())))
        tables = {t.name for t in TABLES if (self.schemas[t.role], t.name) in present}
        owned = (self.schemas["shop"], LEDGER_TABLE) in present
        entry = self.ledger.last_entry() if owned else None
        if entry is not None and entry.ledger_version > LEDGER_VERSION:
            raise SimulatorError(
                f"{self.schemas['shop']}.{LEDGER_TABLE} was written by airflow-source-simulator "
                f"{entry.package_version} (ledger version {entry.ledger_version}); this is {__version__} "
                f"(ledger version {LEDGER_VERSION}). Upgrade the package to operate on this database."
            )
        if entry is not None and (entry.scenario, entry.scale) != (CLASSIC, SCALE):
            raise SimulatorError(
                f"the database holds scenario {entry.scenario!r} at scale {entry.scale}; this package version "
                f"serves {CLASSIC!r} at scale {SCALE}. Reset it, or use the version that wrote it."
            )
        return Inspection(entry, tables, owned)

    def _refuse_foreign_tables(self, inspection: Inspection, force: bool) -> None:
        if inspection.owned or not inspection.tables or force:
            return
        found = ", ".join(self.qualified(t) for t in TABLES if t.name in inspection.tables)
        raise NotOursError(
            f"{found} already exist but were not created by the source simulator (no ledger in "
            f"{self.schemas['shop']}.{LEDGER_TABLE}). Nothing was changed. Point the simulator at other schemas "
            "(shop_schema / crm_schema), drop those tables, or pass force=True to take them over."
        )

    # --- statements -----------------------------------------------------------------------------
    def _packaged(self, name: str) -> list[Statement]:
        quoted = {role: self.platform.quote(schema) for role, schema in self.schemas.items()}
        return [s.with_schemas(quoted["shop"], quoted["crm"]) for s in packaged.statements(self.platform.name, name)]

    def _ledger_statement(self, inspection: Inspection, operation: str, day: int) -> Statement:
        state = packaged.manifest()["states"][str(day)]
        entry = LedgerEntry(
            seq=(inspection.entry.seq if inspection.entry else 0) + 1,
            operation=operation,
            day=day,
            scale=SCALE,
            scenario=CLASSIC,
            package_version=__version__,
            ledger_version=LEDGER_VERSION,
            state_digest=state["state_digest"],
        )
        return self.ledger.record(entry, self.schemas["shop"], self.schemas["crm"])

    def _run(self, title: str, statements: Sequence[Statement], loading: bool, transaction: bool = True) -> None:
        self.log.info("%s", title)
        started = time.perf_counter()

        def on_step(step: Step) -> None:
            self.log.info("%s", step_line(step, self.schemas, loading))

        try:
            self.platform.run(statements, on_step, transaction=transaction)
        except Exception:
            if not self.platform.transactional:
                self.log.error(
                    "✗ %s stopped part-way: %s has no multi-statement transactions. Run the same operation again "
                    "to complete it; every statement is idempotent and the ledger is written last.",
                    title.rstrip("."),
                    self.platform.title,
                )
            raise
        self.log.info("✓ %s done in %.2f s", title.rstrip("."), time.perf_counter() - started)

    def _enable_cdc(self) -> None:
        """Switch change capture on for the eight tables, if asked; idempotent, outside any transaction
        (SQL Server refuses ALTER DATABASE inside one)."""
        if self.cdc_mode is None:
            return
        statements = self.platform.cdc_statements(self.cdc_mode, self.schemas["shop"], self.schemas["crm"], TABLES)
        self._run(f"Switching on change capture ({self.cdc_mode})...", statements, loading=False, transaction=False)
        for note in self.platform.cdc_notes(self.cdc_mode, self.schemas["shop"]):
            self.log.info("%s", note)

    def _load(self, inspection: Inspection, operation: str, title: str, force: bool) -> None:
        """Create what is missing, empty the simulator's tables if any exist, load the baseline."""
        self._refuse_foreign_tables(inspection, force)
        statements = [
            *self._packaged("schema.sql"),
            *(self._packaged("truncate.sql") if inspection.tables else []),
            *self._packaged("baseline.sql"),
            self._ledger_statement(inspection, operation, 0),
        ]
        self._run(title, statements, loading=True)
        # After the load, so that the baseline is the initial snapshot and every later change is captured.
        self._enable_cdc()

    # --- operations -----------------------------------------------------------------------------
    @_in_session
    def load_baseline(self, *, force: bool = False) -> dict[str, Any]:
        inspection = self.inspect()
        if inspection.loaded:
            assert inspection.entry is not None
            self.log.info(
                "Baseline already loaded (the database is at day %s): nothing to do. "
                "Use ResetOperator to return to the baseline.",
                inspection.entry.day,
            )
            self._enable_cdc()
            return self.status(changed=False)
        self._load(inspection, "load_baseline", "Loading baseline schema and data...", force)
        return self.status(changed=True)

    @_in_session
    def apply_delta(self, day: object) -> dict[str, Any]:
        """Apply ``day`` (an int, an integer string, or ``"next"``: the day after the ledger's)."""
        number = None if day == NEXT_DAY else parse_day(day)
        inspection = self.inspect()
        if inspection.entry is None:
            raise SimulatorError(
                f"cannot apply day {day}: no baseline in {self.schemas['shop']} / {self.schemas['crm']}. "
                "Run LoadBaselineOperator first."
            )
        current = inspection.entry.day
        if number is None:
            number = parse_day(current + 1)
        if number <= current:
            self.log.info("Day %s is already applied (the database is at day %s): nothing to do.", number, current)
            return self.status(changed=False)
        if number > current + 1:
            raise SimulatorError(
                f"cannot apply day {number}: the database is at day {current}. "
                f"Apply day {current + 1} first (days are applied in order)."
            )
        statements = [*self._packaged(day_file(number)), self._ledger_statement(inspection, "apply_delta", number)]
        # Before the day, so that its changes are captured.
        self._enable_cdc()
        self._run(f"Applying day {number:02d} delta changes...", statements, loading=False)
        return self.status(changed=True)

    @_in_session
    def reset(self, *, force: bool = False) -> dict[str, Any]:
        self._load(self.inspect(), "reset", "Resetting source databases to baseline...", force)
        return self.status(changed=True)

    @_in_session
    def status(self, *, verify: bool = False, changed: bool | None = None) -> dict[str, Any]:
        inspection = self.inspect()
        entry = inspection.entry
        counts = self._counts(inspection.tables)
        result: dict[str, Any] = {
            "day": entry.day if entry else None,
            "scenario": entry.scenario if entry else None,
            "scale": entry.scale if entry else None,
            "state_digest": entry.state_digest if entry else None,
            "tables": {self.qualified(t): counts.get(t.name) for t in TABLES},
        }
        if changed is not None:
            result["changed"] = changed
        self.log.info("\n%s", status_box(result, self.schemas))
        if verify:
            result["verified"] = self.verify(inspection)
        return result

    def _counts(self, present: set[str]) -> dict[str, int]:
        tables = [t for t in TABLES if t.name in present]
        if not tables:
            return {}
        sql = " UNION ALL ".join(f"SELECT '{t.name}', COUNT(*) FROM {self.ref(t)}" for t in tables)
        return {str(name): int(count) for name, count in self.platform.query(sql)}

    def verify(self, inspection: Inspection) -> bool:
        """Compare every table with the manifest of the ledger's day; raise naming each difference."""
        if inspection.entry is None:
            raise VerificationError("nothing to verify: the simulator has not loaded this database yet.")
        expected = packaged.manifest()["states"][str(inspection.entry.day)]["tables"]
        problems = []
        for table in TABLES:
            want = expected[table.name]
            if table.name not in inspection.tables:
                problems.append(f"{self.qualified(table)}: missing (expected {want['rows']} rows)")
                continue
            rows = self.platform.query(
                f"SELECT {', '.join(table.column_names)} FROM {self.ref(table)} ORDER BY {table.key}"
            )
            keys = [r[0] for r in rows]
            found = {
                "rows": len(rows),
                "min_id": min(keys) if keys else None,
                "max_id": max(keys) if keys else None,
                "digest": digest(format_fetched_rows(table, rows)),
            }
            if any(found[k] != want[k] for k in found):
                problems.append(f"{self.qualified(table)}: expected {_describe(want)}, found {_describe(found)}")
        if problems:
            raise VerificationError(
                f"the database differs from the manifest of day {inspection.entry.day}:\n  " + "\n  ".join(problems)
            )
        self.log.info("✓ Verified: every table matches the manifest of day %s", inspection.entry.day)
        return True


def _describe(figures: dict[str, Any]) -> str:
    ids = "no IDs" if figures["min_id"] is None else f"IDs {figures['min_id']}-{figures['max_id']}"
    return f"{figures['rows']} rows ({ids}, digest {figures['digest'][:12]})"
