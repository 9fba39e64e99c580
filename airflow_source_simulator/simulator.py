"""The four operations, on any engine: what the operators delegate to.

Every operation runs the same way: inspect the database (its ledger, tables and columns), refuse what must
not happen (the guards), plan the work without touching the database, run the plan on the session (the
ledger statement last), then report the status. Where the engine has transactions the work is one of
them, so a failure leaves the previous state; where it has none (Databricks) every statement is
idempotent, so a retry completes it. After a failure the ledger is read again, and the log says which
state the database is in.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from airflow_source_simulator.core import guards
from airflow_source_simulator.core.arguments import NEXT_DAY, parse_day, parse_flag, parse_profile, parse_scale
from airflow_source_simulator.core.guards import FAST_FORWARD_MEANING, FORCE_MEANING, Inspection
from airflow_source_simulator.core.ledger import LedgerEntry, Operation, last_entry_query
from airflow_source_simulator.core.names import validate_schema_name
from airflow_source_simulator.core.plans import Plan, Source
from airflow_source_simulator.core.report import Progress, Written, status_box
from airflow_source_simulator.core.statements import Step
from airflow_source_simulator.core.states import check_state_size, expected_tables
from airflow_source_simulator.data.canonical import canonical_rows, format_fetched_rows
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.data.scenario import CLASSIC, CUSTOM_ID_FLOOR
from airflow_source_simulator.defaults import CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.errors import StoppedError, VerificationError
from airflow_source_simulator.readback import Counts, counts, describe, simulator_rows
from airflow_source_simulator.schema import LEDGER_TABLE, RUN_KEY, TABLES, SchemaRole, Table, tables_at
from airflow_source_simulator.sessions.base import Session

F = TypeVar("F", bound=Callable[..., Any])


def _reading(method: F) -> F:
    """An operation that only reads: one held connection, read-only where the engine can, for all its queries."""

    @functools.wraps(method)
    def wrapper(self: Simulator, *args: Any, **kwargs: Any) -> Any:
        with self.session.hold(self.log, read_only=True):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


def _writing(method: F) -> F:
    """An operation that changes the source: one writer at a time, from its ledger check to its commit, so a
    second writer waits and then reads the ledger the first one wrote (the session's lock)."""

    @functools.wraps(method)
    def wrapper(self: Simulator, *args: Any, **kwargs: Any) -> Any:
        self.written = Written()
        with self.session.hold(self.log), self.session.exclusive(self.schemas["shop"], self.log):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


def _state(entry: LedgerEntry | None) -> str:
    return "not loaded" if entry is None else f"at day {entry.day} ({entry.profile}, scale {entry.scale})"


class Simulator:
    """The operations on one simulated source, through a session on its database.

    ``run_key`` names the task run operating (dag, run, task, map index): the ledger records it, so that a
    retry of a run whose commit went through knows the change as its own.
    """

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
        run_key: str | None = None,
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
        self.run_key = run_key
        self.written = Written()  # what the last writing operation wrote

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

    def interrupt(self) -> None:
        """Stop the running operation (from a signal handler or another thread): it ends in the old state."""
        self.session.interrupt()

    # --- inspection -----------------------------------------------------------------------------
    def inspect(self, *, take_over: bool = False) -> Inspection:
        """What the database holds. A ledger this version cannot read (written by a newer version) is refused,
        unless ``take_over`` (a reset with ``force=True``, which replaces the state with this version's)."""
        catalog = self.session.catalog(sorted(set(self.schemas.values())))
        names: list[tuple[SchemaRole, str]] = [(t.role, t.name) for t in TABLES] + [("shop", LEDGER_TABLE)]
        columns = {name: catalog[key] for role, name in names if (key := (self.schemas[role], name)) in catalog}
        owned = LEDGER_TABLE in columns
        tables = frozenset(name for name in columns if name != LEDGER_TABLE)
        entry = None
        if owned:
            query = last_entry_query(self.source.ledger_ref, with_run_key=RUN_KEY.name in columns[LEDGER_TABLE])
            rows = self.session.query(query)
            entry = LedgerEntry.from_row(rows[0]) if rows else None
        if not take_over:
            guards.refuse_unreadable_ledger(entry, self.schemas["shop"])
        return Inspection(entry, tables, owned, columns)

    def _refuse_taken_ids(self, day: int, inspection: Inspection) -> None:
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
                r.table.name: self._rows_not_of_day(day, r, taken[r.table.name], inspection)
                for r in ranges
                if r.table.name in taken
            }
            taken = {name: count for name, count in foreign.items() if count}
        guards.refuse_taken_ids(day, taken, ranges, self.schemas)

    def _rows_not_of_day(self, day: int, ids: guards.NewIds, taken: int, inspection: Inspection) -> int:
        """How many of the ``taken`` rows in the range ``ids`` differ from the rows ``day`` inserts there."""
        shape = next(t for t in tables_at(self.profile, day) if t.name == ids.table.name)
        if not all(inspection.has_column(shape.name, c) for c in shape.column_names):
            return taken  # a column the day's rows carry is missing: none of the rows is the day's
        rows = self.session.query(self.source.rows_query(shape, f" WHERE {shape.key} BETWEEN {ids.lo} AND {ids.hi}"))
        inserted = set(canonical_rows(shape, day_delta(day, self.scale, profile=self.profile)[shape.name].inserted))
        return sum(line not in inserted for line in format_fetched_rows(shape, rows))

    # --- running --------------------------------------------------------------------------------
    def _run(self, plan: Plan, inspection: Inspection | None = None, day: int = 0) -> None:
        if inspection is not None:
            tables = plan.inserted_tables()
            guards.refuse_required_columns(
                inspection, tables, tables_at(self.profile, day), self.schemas, plan.title.rstrip(".")
            )
        self.log.info("%s", plan.title)
        progress = Progress(self.source.schemas, plan.loading)

        def done(step: Step) -> None:
            self.written.record(step)
            self.log.info("%s", progress.line(step))

        try:
            self.session.run(
                plan.work,
                done,
                transaction=plan.transaction,
                schemas=sorted(set(self.schemas.values())),
            )
        except BaseException as error:
            self.log.error("✗ %s", self._after_failure(plan, error))
            raise
        self.log.info("✓ %s done in %.2f s", plan.title.rstrip("."), progress.seconds)

    def _after_failure(self, plan: Plan, error: BaseException) -> str:
        """Which state a failed or stopped plan left, read back from the ledger on a connection of its own."""
        stopped = isinstance(error, StoppedError) or self.session.stopping
        what = f"{plan.title.rstrip('.')} {'was stopped' if stopped else 'failed'}"
        if plan.records is None:
            return f"{what}. Its statements are idempotent: run it again."
        try:
            now = self._ledger_now()
        except Exception as reading:
            return f"{what}, and the ledger could not be read back ({reading}): check the state with StatusOperator."
        if now is not None and now.seq >= plan.records.seq:
            return f"{what} after its commit went through: the database is {_state(now)}. Running it again is a no-op."
        if not self.session.dialect.transactional:
            return (
                f"{plan.title.rstrip('.')} stopped part-way: {self.session.title} has no multi-statement transactions, "
                f"and the ledger still says the database is {_state(now)}. Run the same operation again to complete "
                "it; every statement is idempotent and the ledger is written last."
            )
        return f"{what}. Nothing was changed: the database is still {_state(now)}. Run it again."

    def _ledger_now(self) -> LedgerEntry | None:
        """The ledger's last entry as committed, read on a connection of its own (None: no ledger, or empty)."""
        shop = self.schemas["shop"]
        catalog = self.session.fresh_query(self.session.dialect.catalog_query([shop]))
        columns = {str(column).lower() for _, table, column, *_ in catalog if str(table) == LEDGER_TABLE}
        if not columns:
            return None
        rows = self.session.fresh_query(last_entry_query(self.source.ledger_ref, with_run_key=RUN_KEY.name in columns))
        return LedgerEntry.from_row(rows[0]) if rows else None

    def _enable_cdc(self) -> None:
        if self.cdc_mode is None:
            return
        self._run(self.source.cdc(self.cdc_mode))
        for note in self.session.cdc_notes(self.cdc_mode, self.schemas["shop"]):
            self.log.info("%s", note)

    def _load(self, inspection: Inspection, operation: Operation, title: str, force: bool, day: int = 0) -> None:
        guards.refuse_foreign_tables(inspection, self.schemas, force)
        check_state_size(day, self.scale)
        self._run(self.source.load(inspection, operation, title, day, self.run_key), inspection, day)
        # After the load, so that it is the initial snapshot and every later change is captured.
        self._enable_cdc()

    def _ours(self, entry: LedgerEntry, day: int) -> bool:
        """Whether ``entry`` took the database to ``day`` in this task run: an earlier try committed it."""
        return self.run_key is not None and entry.run_key == self.run_key and entry.day == day

    # --- operations -----------------------------------------------------------------------------
    @_writing
    def load_baseline(self, *, force: bool = False) -> dict[str, Any]:
        force = parse_flag(force, "force", FORCE_MEANING)
        inspection = self.inspect()
        if inspection.entry is not None:
            guards.refuse_other_state(inspection.entry, self.scale, self.profile)
            ours = self._ours(inspection.entry, 0)
            self.log.info(
                "Baseline already loaded (the database is at day %s)%s: nothing to do. "
                "Use ResetOperator to return to the baseline.",
                inspection.entry.day,
                " by an earlier try of this task, whose commit went through" if ours else "",
            )
            self._enable_cdc()
            return self.status(changed=ours)
        title = "Loading baseline schema and data" + (f" at scale {self.scale}..." if self.scale > 1 else "...")
        self._load(inspection, Operation.LOAD_BASELINE, title, force)
        return self.status(changed=True)

    @_writing
    def apply_delta(self, day: object, *, fast_forward: bool = False) -> dict[str, Any]:
        """Apply ``day`` (an int, an integer string, or ``"next"``: the day after the ledger's).

        With ``fast_forward`` a database behind the day before (or not loaded at all) is rebuilt at
        ``day`` directly, without replaying the days between: the same rows as replaying them, and rows
        of the user's own (IDs from the custom floor) are kept, as replaying keeps them.
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
        if entry is not None and number <= current:
            ours = self._ours(entry, number)
            self.log.info(
                "Day %s is already applied (the database is at day %s)%s: nothing to do.",
                number,
                current,
                " by an earlier try of this task, whose commit went through" if ours else "",
            )
            return self.status(changed=ours)
        if number > current + 1:
            if not fast_forward:
                raise guards.refuse_out_of_order(number, current)
            self._load(inspection, Operation.FAST_FORWARD, f"Fast-forwarding to day {number:02d}...", False, number)
            return self.status(changed=True)
        self._refuse_taken_ids(number, inspection)
        plan = self.source.day(inspection, number, self.run_key)
        # Before the day, so that its changes are captured.
        self._enable_cdc()
        self._run(plan, inspection, number)
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
        found = counts(self.session, self.source, [t for t in TABLES if t.name in inspection.tables])
        result: dict[str, Any] = {
            "day": entry.day if entry else None,
            "profile": entry.profile if entry else None,
            "scale": entry.scale if entry else None,
            "state_digest": entry.state_digest if entry else None,
            "tables": {self.qualified(t): found[t.name].rows if t.name in found else None for t in TABLES},
        }
        if changed is not None:
            result["changed"] = changed
        self.log.info("\n%s", status_box(result, self.schemas))
        if verify:
            result["custom_rows"] = self._custom_rows(found)
            result["verified"] = self.verify(inspection, found)
        return result

    def _custom_rows(self, found: dict[str, Counts]) -> dict[str, int]:
        """Rows of the user's own per table (IDs from the custom floor): reported, never verified."""
        mine = {self.qualified(t): found[t.name].custom for t in TABLES if t.name in found and found[t.name].custom}
        if mine:
            listed = ", ".join(f"{name} {count}" for name, count in mine.items())
            self.log.info(
                "Rows of your own (IDs from %s), left out of the verification: %s", f"{CUSTOM_ID_FLOOR:,}", listed
            )
        return mine

    def verify(self, inspection: Inspection, found: dict[str, Counts]) -> bool:
        """Compare every table's simulator rows with the manifest of the ledger's day (``found``: the tables'
        counts, read with the status); raise naming each difference. Rows of the user's own (IDs from the
        custom floor) are left out."""
        if inspection.entry is None:
            raise VerificationError("nothing to verify: the simulator has not loaded this database yet.")
        entry = inspection.entry
        # The expected figures are generated on another thread while the tables are read back on this one.
        with ThreadPoolExecutor(1, thread_name_prefix="source-simulator-expected") as pool:
            expecting = pool.submit(expected_tables, entry.day, entry.scale, entry.profile)
            tables = tables_at(entry.profile, entry.day)
            figures = {
                t.name: simulator_rows(self.session, self.source, t, found[t.name].highest)
                for t in tables
                if t.name in found
            }
            expected = expecting.result()
        problems = []
        for table in tables:
            want = expected[table.name]
            if table.name not in figures:
                problems.append(f"{self.qualified(table)}: missing (expected {want['rows']} rows)")
                continue
            if any(value != want[k] for k, value in figures[table.name].items()):
                problems.append(
                    f"{self.qualified(table)}: expected {describe(want)}, found {describe(figures[table.name])}"
                )
        if problems:
            raise VerificationError(
                f"the database differs from the manifest of day {entry.day}:\n  " + "\n  ".join(problems)
            )
        self.log.info("✓ Verified: every table matches the manifest of day %s", entry.day)
        return True
