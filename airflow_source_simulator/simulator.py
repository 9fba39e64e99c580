"""The four operations, on any engine: what the operators delegate to.

Every operation runs the same way: inspect the database (its ledger and tables), refuse what must not
happen (the guards), plan the work without touching the database, run the plan on the session (the
ledger statement last), then report the status. Where the engine has transactions the work is one of
them, so a failure leaves the previous state; where it has none (Databricks) every statement is
idempotent, so a retry completes it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from airflow_source_simulator.core import guards
from airflow_source_simulator.core.arguments import NEXT_DAY, parse_day, parse_flag, parse_profile, parse_scale
from airflow_source_simulator.core.guards import FAST_FORWARD_MEANING, FORCE_MEANING, Inspection
from airflow_source_simulator.core.ledger import LedgerEntry, Operation, last_entry_query
from airflow_source_simulator.core.names import validate_schema_name
from airflow_source_simulator.core.plans import Plan, Source
from airflow_source_simulator.core.report import Progress, status_box
from airflow_source_simulator.core.states import check_state_size, expected_tables
from airflow_source_simulator.data.canonical import canonical_rows, digest, format_fetched_rows
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.data.scenario import CLASSIC
from airflow_source_simulator.defaults import CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.errors import VerificationError
from airflow_source_simulator.schema import LEDGER_TABLE, LOYALTY_TIER, TABLES, SchemaRole, Table, tables_at
from airflow_source_simulator.sessions.base import Session

F = TypeVar("F", bound=Callable[..., Any])


def _reading(method: F) -> F:
    """An operation that only reads: one held connection for all its queries."""

    @functools.wraps(method)
    def wrapper(self: Simulator, *args: Any, **kwargs: Any) -> Any:
        with self.session.hold(self.log):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


def _writing(method: F) -> F:
    """An operation that changes the source: one writer at a time, from its ledger check to its commit, so a
    second writer waits and then reads the ledger the first one wrote (the session's lock)."""

    @functools.wraps(method)
    def wrapper(self: Simulator, *args: Any, **kwargs: Any) -> Any:
        with self.session.hold(self.log), self.session.exclusive(self.schemas["shop"], self.log):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


class Simulator:
    """The operations on one simulated source, through a session on its database."""

    def __init__(
        self,
        session: Session,
        *,
        shop_schema: str = SHOP_SCHEMA,
        crm_schema: str = CRM_SCHEMA,
        scale: int | str = 1,
        profile: str = CLASSIC,
        enable_cdc: bool | str = False,
        log: logging.Logger | Any | None = None,
    ) -> None:
        self.session = session
        dialect = session.dialect
        schemas: dict[SchemaRole, str] = {
            "shop": dialect.fold(validate_schema_name(shop_schema, "shop_schema")),
            "crm": dialect.fold(validate_schema_name(crm_schema, "crm_schema")),
        }
        self.source = Source(dialect, schemas, parse_scale(scale), parse_profile(profile))
        self.cdc_mode = dialect.cdc_mode(enable_cdc)
        self.log = log or logging.getLogger(__name__)

    @property
    def schemas(self) -> dict[SchemaRole, str]:
        return dict(self.source.schemas)

    @property
    def scale(self) -> int:
        return self.source.scale

    @property
    def profile(self) -> str:
        return str(self.source.profile)

    def qualified(self, table: Table) -> str:
        return self.source.qualified(table)

    def ref(self, table: Table) -> str:
        return self.source.ref(table)

    # --- inspection -----------------------------------------------------------------------------
    def inspect(self, *, take_over: bool = False) -> Inspection:
        """What the database holds. A ledger this version cannot read (written by a newer version) is refused,
        unless ``take_over`` (a reset with ``force=True``, which replaces the state with this version's)."""
        present = self.session.existing_tables(sorted(set(self.schemas.values())))
        tables = frozenset(t.name for t in TABLES if (self.schemas[t.role], t.name) in present)
        owned = (self.schemas["shop"], LEDGER_TABLE) in present
        entry = None
        if owned:
            rows = self.session.query(last_entry_query(self.source.ledger_ref))
            entry = LedgerEntry.from_row(rows[0]) if rows else None
        if not take_over:
            guards.refuse_unreadable_ledger(entry, self.schemas["shop"])
        return Inspection(entry, tables, owned)

    def _column_present(self, inspection: Inspection) -> bool:
        """Whether the customers table has the cdc profile's added column now."""
        return "customers" in inspection.tables and LOYALTY_TIER.name in self.session.existing_columns(
            self.schemas["shop"], "customers"
        )

    def _refuse_taken_ids(self, day: int) -> None:
        """Refuse a day whose new IDs are taken already (rows of your own), before anything changes."""
        ranges = guards.new_ids(day, self.scale)
        if not ranges:
            return
        rows = self.session.query(self.source.taken_ids_query(ranges))
        taken = {str(name): int(count) for name, count in rows if int(count)}
        if taken and not self.session.dialect.transactional:
            # No transactions: an interrupted run of this day may have inserted some of its rows already (its
            # ledger row, written last, is missing). Rows equal to the day's own are not in the way.
            foreign = {
                r.table.name: self._rows_not_of_day(day, r, taken[r.table.name])
                for r in ranges
                if r.table.name in taken
            }
            taken = {name: count for name, count in foreign.items() if count}
        guards.refuse_taken_ids(day, taken, ranges, self.schemas)

    def _rows_not_of_day(self, day: int, ids: guards.NewIds, taken: int) -> int:
        """How many of the ``taken`` rows in the range ``ids`` differ from the rows ``day`` inserts there."""
        shape = next(t for t in tables_at(self.profile, day) if t.name == ids.table.name)
        present = self.session.existing_columns(self.schemas[shape.role], shape.name)
        if not set(shape.column_names) <= present:  # a column the day's rows carry is missing: none is the day's
            return taken
        rows = self.session.query(self.source.rows_query(shape, f" WHERE {shape.key} BETWEEN {ids.lo} AND {ids.hi}"))
        inserted = set(canonical_rows(shape, day_delta(day, self.scale, profile=self.profile)[shape.name].inserted))
        return sum(line not in inserted for line in format_fetched_rows(shape, rows))

    # --- running --------------------------------------------------------------------------------
    def _run(self, plan: Plan) -> None:
        self.log.info("%s", plan.title)
        progress = Progress(self.source.schemas, plan.loading)
        title = plan.title.rstrip(".")
        try:
            self.session.run(
                plan.work, lambda step: self.log.info("%s", progress.line(step)), transaction=plan.transaction
            )
        except Exception:
            if not self.session.dialect.transactional:
                self.log.error(
                    "✗ %s stopped part-way: %s has no multi-statement transactions. Run the same operation again "
                    "to complete it; every statement is idempotent and the ledger is written last.",
                    title,
                    self.session.title,
                )
            elif plan.transaction:
                self.log.error(
                    "✗ %s failed. On %s it is one transaction, so the database holds the state before it (or, had "
                    "the commit gone through, the whole new state), never a part of it. Run it again.",
                    title,
                    self.session.title,
                )
            raise
        self.log.info("✓ %s done in %.2f s", title, progress.seconds)

    def _enable_cdc(self) -> None:
        if self.cdc_mode is None:
            return
        self._run(self.source.cdc(self.cdc_mode))
        for note in self.session.cdc_notes(self.cdc_mode, self.schemas["shop"]):
            self.log.info("%s", note)

    def _load(self, inspection: Inspection, operation: Operation, title: str, force: bool, day: int = 0) -> None:
        guards.refuse_foreign_tables(inspection, self.schemas, force)
        check_state_size(day, self.scale)
        self._run(self.source.load(inspection, operation, title, day, self._column_present(inspection)))
        # After the load, so that it is the initial snapshot and every later change is captured.
        self._enable_cdc()

    # --- operations -----------------------------------------------------------------------------
    @_writing
    def load_baseline(self, *, force: bool = False) -> dict[str, Any]:
        force = parse_flag(force, "force", FORCE_MEANING)
        inspection = self.inspect()
        if inspection.entry is not None:
            self.log.info(
                "Baseline already loaded (the database is at day %s): nothing to do. "
                "Use ResetOperator to return to the baseline.",
                inspection.entry.day,
            )
            guards.refuse_other_state(inspection.entry, self.scale, self.profile)
            self._enable_cdc()
            return self.status(changed=False)
        title = "Loading baseline schema and data" + (f" at scale {self.scale}..." if self.scale > 1 else "...")
        self._load(inspection, Operation.LOAD_BASELINE, title, force)
        return self.status(changed=True)

    @_writing
    def apply_delta(self, day: object, *, fast_forward: bool = False) -> dict[str, Any]:
        """Apply ``day`` (an int, an integer string, or ``"next"``: the day after the ledger's).

        With ``fast_forward`` a database behind the day before (or not loaded at all) is rebuilt at
        ``day`` directly, without replaying the days between: the same rows as replaying them.
        """
        number = None if day == NEXT_DAY else parse_day(day)
        fast_forward = parse_flag(fast_forward, "fast_forward", FAST_FORWARD_MEANING)
        inspection = self.inspect()
        entry = inspection.entry
        if entry is None and not fast_forward:
            raise guards.refuse_no_baseline(day, self.schemas)
        current = entry.day if entry else -1
        if number is None:
            number = parse_day(current + 1)
        check_state_size(number, self.scale)
        if entry is not None:
            guards.refuse_other_state(entry, self.scale, self.profile)
        if number <= current:
            self.log.info("Day %s is already applied (the database is at day %s): nothing to do.", number, current)
            return self.status(changed=False)
        if number > current + 1:
            if not fast_forward:
                raise guards.refuse_out_of_order(number, current)
            self._load(inspection, Operation.FAST_FORWARD, f"Fast-forwarding to day {number:02d}...", False, number)
            return self.status(changed=True)
        self._refuse_taken_ids(number)
        plan = self.source.day(inspection, number, self._column_present(inspection))
        # Before the day, so that its changes are captured.
        self._enable_cdc()
        self._run(plan)
        return self.status(changed=True)

    @_writing
    def reset(self, *, force: bool = False) -> dict[str, Any]:
        """Reload the baseline into the simulator's tables. ``force`` also takes over same-named tables the
        simulator did not create, and a database written by a newer version of the package."""
        force = parse_flag(force, "force", FORCE_MEANING)
        self._load(self.inspect(take_over=force), Operation.RESET, "Resetting source databases to baseline...", force)
        return self.status(changed=True)

    @_reading
    def status(self, *, verify: bool = False, changed: bool | None = None) -> dict[str, Any]:
        inspection = self.inspect()
        entry = inspection.entry
        counts = self._counts(inspection.tables)
        result: dict[str, Any] = {
            "day": entry.day if entry else None,
            "profile": entry.profile if entry else None,
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

    def _counts(self, present: frozenset[str]) -> dict[str, int]:
        tables = [t for t in TABLES if t.name in present]
        if not tables:
            return {}
        return {str(name): int(count) for name, count in self.session.query(self.source.counts_query(tables))}

    def verify(self, inspection: Inspection) -> bool:
        """Compare every table with the manifest of the ledger's day; raise naming each difference."""
        if inspection.entry is None:
            raise VerificationError("nothing to verify: the simulator has not loaded this database yet.")
        entry = inspection.entry
        expected = expected_tables(entry.day, entry.scale, entry.profile)
        problems = []
        for table in tables_at(entry.profile, entry.day):
            want = expected[table.name]
            if table.name not in inspection.tables:
                problems.append(f"{self.qualified(table)}: missing (expected {want['rows']} rows)")
                continue
            rows = self.session.query(self.source.rows_query(table))
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
                f"the database differs from the manifest of day {entry.day}:\n  " + "\n  ".join(problems)
            )
        self.log.info("✓ Verified: every table matches the manifest of day %s", entry.day)
        return True


def _describe(figures: dict[str, Any]) -> str:
    ids = "no IDs" if figures["min_id"] is None else f"IDs {figures['min_id']}-{figures['max_id']}"
    return f"{figures['rows']} rows ({ids}, digest {figures['digest'][:12]})"
