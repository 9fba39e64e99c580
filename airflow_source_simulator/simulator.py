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
from airflow_source_simulator.data.canonical import canonical_rows, digest, format_fetched_rows
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.data.generate import state as generated_state
from airflow_source_simulator.data.scenario import CLASSIC, CUSTOM_ID_FLOOR, PROFILES, max_id
from airflow_source_simulator.errors import NotOursError, SimulatorError, VerificationError
from airflow_source_simulator.ledger import Ledger, LedgerEntry
from airflow_source_simulator.names import validate_schema_name
from airflow_source_simulator.platforms.base import Platform
from airflow_source_simulator.render import day_file
from airflow_source_simulator.report import status_box, step_line
from airflow_source_simulator.schema import (
    LEDGER_TABLE,
    LEDGER_VERSION,
    LOYALTY_TIER,
    TABLES,
    TABLES_BY_NAME,
    Table,
    tables_at,
)
from airflow_source_simulator.statements import Rows, Statement, Step, Work
from airflow_source_simulator.states import (
    check_state_size,
    expected_tables,
    is_packaged,
    parse_day,
    parse_profile,
    parse_scale,
    state_digest,
)
from airflow_source_simulator.version import __version__

NEXT_DAY = "next"
_FORCE_MEANING = "True takes over same-named tables the simulator did not create, replacing their rows"

F = TypeVar("F", bound=Callable[..., Any])


def _in_session(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: Simulator, *args: Any, **kwargs: Any) -> Any:
        with self.platform.session(self.log):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


def _writing(method: F) -> F:
    """An operation that changes the source: one writer at a time, from its ledger check to its commit, so a
    second writer waits and then reads the ledger the first one wrote (the platform's lock)."""

    @functools.wraps(method)
    def wrapper(self: Simulator, *args: Any, **kwargs: Any) -> Any:
        with self.platform.session(self.log), self.platform.exclusive(self.schemas["shop"], self.log):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


@dataclass(frozen=True)
class Inspection:
    """What the database holds before an operation: the ledger's last entry and the tables present."""

    entry: LedgerEntry | None
    tables: set[str]  # simulator table names present (ledger excluded)
    owned: bool  # the ledger table exists: whatever of the tables exists was created by the simulator

    @property
    def loaded(self) -> bool:
        return self.entry is not None


def _flag(value: object, name: str, meaning: str) -> bool:
    """A flag must be a bool: the text "False" is truthy, and a flag that takes over or rebuilds tables must not
    be switched on by it."""
    if not isinstance(value, bool):
        raise SimulatorError(f"{name}={value!r} is not valid: give True or False ({meaning}). Nothing was changed.")
    return value


class Simulator:
    def __init__(
        self,
        platform: Platform,
        *,
        shop_schema: str = "jaffle_shop",
        crm_schema: str = "jaffle_crm",
        scale: int | str = 1,
        profile: str = CLASSIC,
        enable_cdc: bool | str = False,
        log: logging.Logger | Any | None = None,
    ) -> None:
        self.platform = platform
        self.scale = parse_scale(scale)
        self.profile = parse_profile(profile)
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
    def inspect(self, *, take_over: bool = False) -> Inspection:
        """What the database holds. A ledger this version cannot read (written by a newer version) is refused,
        unless ``take_over`` (a reset with ``force=True``, which replaces the state with this version's)."""
        present = self.platform.existing_tables(sorted(set(self.schemas.values())))
        tables = {t.name for t in TABLES if (self.schemas[t.role], t.name) in present}
        owned = (self.schemas["shop"], LEDGER_TABLE) in present
        entry = self.ledger.last_entry() if owned else None
        if entry is not None and not take_over:
            remedy = (
                "Nothing was changed. Upgrade airflow-source-simulator to operate on this database, or reset it "
                "with this version: ResetOperator(force=True) reloads the baseline (the ledger keeps its history)."
            )
            if entry.ledger_version > LEDGER_VERSION:
                raise SimulatorError(
                    f"{self.schemas['shop']}.{LEDGER_TABLE} was written by airflow-source-simulator "
                    f"{entry.package_version} (ledger version {entry.ledger_version}); this is {__version__} "
                    f"(ledger version {LEDGER_VERSION}). {remedy}"
                )
            if entry.scenario not in PROFILES:
                raise SimulatorError(
                    f"the database holds profile {entry.scenario!r} (written by airflow-source-simulator "
                    f"{entry.package_version}); this is {__version__}, which serves {', '.join(PROFILES)}. {remedy}"
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
        entry = LedgerEntry(
            seq=(inspection.entry.seq if inspection.entry else 0) + 1,
            operation=operation,
            day=day,
            scale=self.scale,
            scenario=self.profile,
            package_version=__version__,
            ledger_version=LEDGER_VERSION,
            state_digest=state_digest(day, self.scale, self.profile),
        )
        return self.ledger.record(entry, self.schemas["shop"], self.schemas["crm"])

    def _state_work(self, day: int) -> list[Work]:
        """The rows of state ``day``, into emptied tables: packaged SQL, or generated rows in bulk."""
        if day == 0 and is_packaged(day, self.scale, self.profile):
            return [*self._packaged("baseline.sql")]
        state = generated_state(day, self.scale, self.profile)
        rows = [Rows("load", t, self.ref(t), state.table(t.name)) for t in tables_at(self.profile, day)]
        return [r for r in rows if len(r)]

    def _delta_work(self, day: int) -> list[Work]:
        if is_packaged(day, self.scale, self.profile):
            return [*self._packaged(day_file(day))]
        out: list[Work] = []
        for table, change in zip(
            tables_at(self.profile, day), day_delta(day, self.scale, profile=self.profile).values(), strict=True
        ):
            ref = self.ref(table)
            candidates = [
                Rows("touch", table, ref, change.touched) if change.touched_rows else None,
                Rows("insert", table, ref, change.inserted) if change.inserted_rows else None,
                Rows("update", table, ref, change.updated, change.soft_deleted) if change.updated_rows else None,
                Rows("delete", table, ref, {table.key: change.hard_deleted}) if change.hard_deleted.size else None,
            ]
            out += [rows for rows in candidates if rows is not None]
        return out

    def _schema_change_work(self, day: int, inspection: Inspection) -> list[Work]:
        """Add the profile's column once its day has come, and drop it from a state before that day."""
        customers = TABLES_BY_NAME["customers"]
        present = "customers" in inspection.tables and LOYALTY_TIER.name in self.platform.existing_columns(
            self.schemas["shop"], "customers"
        )
        wanted = LOYALTY_TIER.name in tables_at(self.profile, day)[0].column_names
        if wanted == present:
            return []
        ref = self.ref(customers)
        if wanted:
            return [
                Statement(self.platform.add_column(ref, LOYALTY_TIER), Step("add_column", "customers.loyalty_tier"))
            ]
        return [Statement(self.platform.drop_column(ref, LOYALTY_TIER), Step("drop_column", "customers.loyalty_tier"))]

    def _refuse_colliding_rows(self, day: int) -> None:
        """Refuse a day whose new IDs are taken already (rows of your own), before anything changes.

        A transactional engine would roll the day back on the duplicate key; Databricks' MERGE would
        silently keep the other row. Either way the user is told which rows are in the way.
        """
        ranges = {t.name: (max_id(t.name, day - 1, self.scale) + 1, max_id(t.name, day, self.scale)) for t in TABLES}
        checks = [(t, *ranges[t.name]) for t in TABLES if ranges[t.name][0] <= ranges[t.name][1]]
        if not checks:
            return
        sql = " UNION ALL ".join(
            f"SELECT '{t.name}', COUNT(*) FROM {self.ref(t)} WHERE {t.key} BETWEEN {lo} AND {hi}"
            for t, lo, hi in checks
        )
        taken = {str(name): int(count) for name, count in self.platform.query(sql) if int(count)}
        if taken and not self.platform.transactional:
            # No transactions: an interrupted run of this day may have inserted some of its rows already (its
            # ledger row, written last, is missing). Rows equal to the day's own are not in the way.
            foreign = {
                t.name: self._rows_not_of_day(day, t, lo, hi, taken[t.name]) for t, lo, hi in checks if t.name in taken
            }
            taken = {name: count for name, count in foreign.items() if count}
        if taken:
            found = "; ".join(
                f"{self.qualified(t)} IDs {lo}-{hi}: {taken[t.name]} taken" for t, lo, hi in checks if t.name in taken
            )
            raise SimulatorError(
                f"day {day} inserts rows whose IDs are already taken ({found}). Nothing was changed. Give rows of "
                f"your own IDs from {CUSTOM_ID_FLOOR:,} up, which the simulator never generates, or reset."
            )

    def _rows_not_of_day(self, day: int, table: Table, lo: int, hi: int, taken: int) -> int:
        """How many of the ``taken`` rows with IDs ``lo``-``hi`` differ from the rows ``day`` inserts there."""
        shape = next(t for t in tables_at(self.profile, day) if t.name == table.name)
        present = self.platform.existing_columns(self.schemas[table.role], table.name)
        if not set(shape.column_names) <= present:  # a column the day's rows carry is missing: none is the day's
            return taken
        rows = self.platform.query(
            f"SELECT {', '.join(shape.column_names)} FROM {self.ref(table)} WHERE {table.key} BETWEEN {lo} AND {hi}"
        )
        inserted = set(canonical_rows(shape, day_delta(day, self.scale, profile=self.profile)[table.name].inserted))
        return sum(line not in inserted for line in format_fetched_rows(shape, rows))

    def _run(self, title: str, work: Sequence[Work], loading: bool, transaction: bool = True) -> None:
        self.log.info("%s", title)
        started = time.perf_counter()
        step_started: dict[tuple[str, str], float] = {}

        def on_step(step: Step) -> None:
            line = step_line(step, self.schemas, loading)
            if step.done is not None and step.rows:
                # A step of several statements: report its rate as it goes.
                first = step_started.setdefault((step.action, step.target), started)
                rate = step.done / max(time.perf_counter() - first, 1e-9)
                line += f" ({rate / 1e6:.2f} M rows/s)" if rate >= 1e5 else f" ({rate:,.0f} rows/s)"
                if step.finished:
                    step_started.pop((step.action, step.target), None)
            else:
                step_started.clear()
            self.log.info("%s", line)

        try:
            self.platform.run(work, on_step, transaction=transaction)
        except Exception:
            if not self.platform.transactional:
                self.log.error(
                    "✗ %s stopped part-way: %s has no multi-statement transactions. Run the same operation again "
                    "to complete it; every statement is idempotent and the ledger is written last.",
                    title.rstrip("."),
                    self.platform.title,
                )
            elif transaction:
                self.log.error(
                    "✗ %s failed. On %s it is one transaction, so the database holds the state before it (or, had "
                    "the commit gone through, the whole new state), never a part of it. Run it again.",
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

    def _load(self, inspection: Inspection, operation: str, title: str, force: bool, day: int = 0) -> None:
        """Create what is missing, empty the simulator's tables if any exist, load the state of ``day``."""
        self._refuse_foreign_tables(inspection, force)
        check_state_size(day, self.scale)
        work: list[Work] = [
            *self._packaged("schema.sql"),
            *(self._packaged("truncate.sql") if inspection.tables else []),
            *self._schema_change_work(day, inspection),
            *self._state_work(day),
            self._ledger_statement(inspection, operation, day),
        ]
        self._run(title, work, loading=True)
        # After the load, so that it is the initial snapshot and every later change is captured.
        self._enable_cdc()

    def _refuse_other_scale(self, entry: LedgerEntry) -> None:
        if entry.scale != self.scale:
            raise SimulatorError(
                f"the database holds scale {entry.scale} (day {entry.day}); this operation asked for scale "
                f"{self.scale}. Nothing was changed. Give scale={entry.scale}, or reset with scale={self.scale}."
            )
        if entry.scenario != self.profile:
            raise SimulatorError(
                f"the database holds the {entry.scenario!r} profile (day {entry.day}); this operation asked for "
                f"{self.profile!r}. Nothing was changed. Give profile={entry.scenario!r}, or reset with "
                f"profile={self.profile!r}."
            )

    # --- operations -----------------------------------------------------------------------------
    @_writing
    def load_baseline(self, *, force: bool = False) -> dict[str, Any]:
        force = _flag(force, "force", _FORCE_MEANING)
        inspection = self.inspect()
        if inspection.loaded:
            assert inspection.entry is not None
            self.log.info(
                "Baseline already loaded (the database is at day %s): nothing to do. "
                "Use ResetOperator to return to the baseline.",
                inspection.entry.day,
            )
            self._refuse_other_scale(inspection.entry)
            self._enable_cdc()
            return self.status(changed=False)
        title = "Loading baseline schema and data" + (f" at scale {self.scale}..." if self.scale > 1 else "...")
        self._load(inspection, "load_baseline", title, force)
        return self.status(changed=True)

    @_writing
    def apply_delta(self, day: object, *, fast_forward: bool = False) -> dict[str, Any]:
        """Apply ``day`` (an int, an integer string, or ``"next"``: the day after the ledger's).

        With ``fast_forward`` a database behind the day before (or not loaded at all) is rebuilt at
        ``day`` directly, without replaying the days between: the same rows as replaying them.
        """
        number = None if day == NEXT_DAY else parse_day(day)
        fast_forward = _flag(fast_forward, "fast_forward", "True builds the day directly, replacing the tables' rows")
        inspection = self.inspect()
        entry = inspection.entry
        if entry is None and not fast_forward:
            raise SimulatorError(
                f"cannot apply day {day}: no baseline in {self.schemas['shop']} / {self.schemas['crm']}. "
                "Run LoadBaselineOperator first, or pass fast_forward=True to build the day directly."
            )
        current = entry.day if entry else -1
        if number is None:
            number = parse_day(current + 1)
        check_state_size(number, self.scale)
        if entry is not None:
            self._refuse_other_scale(entry)
        if number <= current:
            self.log.info("Day %s is already applied (the database is at day %s): nothing to do.", number, current)
            return self.status(changed=False)
        if number > current + 1:
            if not fast_forward:
                raise SimulatorError(
                    f"cannot apply day {number}: the database is at day {current}. Apply day {current + 1} first "
                    "(days are applied in order), or pass fast_forward=True to build the day directly."
                )
            self._load(inspection, "fast_forward", f"Fast-forwarding to day {number:02d}...", False, day=number)
            return self.status(changed=True)
        self._refuse_colliding_rows(number)
        work: list[Work] = [
            *self._schema_change_work(number, inspection),
            *self._delta_work(number),
            self._ledger_statement(inspection, "apply_delta", number),
        ]
        # Before the day, so that its changes are captured.
        self._enable_cdc()
        self._run(f"Applying day {number:02d} delta changes...", work, loading=False)
        return self.status(changed=True)

    @_writing
    def reset(self, *, force: bool = False) -> dict[str, Any]:
        """Reload the baseline into the simulator's tables. ``force`` also takes over same-named tables the
        simulator did not create, and a database written by a newer version of the package."""
        force = _flag(force, "force", _FORCE_MEANING)
        self._load(self.inspect(take_over=force), "reset", "Resetting source databases to baseline...", force)
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
        entry = inspection.entry
        expected = expected_tables(entry.day, entry.scale, entry.scenario)
        problems = []
        for table in tables_at(entry.scenario, entry.day):
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
