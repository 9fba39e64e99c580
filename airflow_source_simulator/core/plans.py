"""The plan of each operation: the statements and generated rows it will run, computed without a database.

A ``Source`` is one simulated source as the plans see it: its engine's dialect, its two schemas, its
scale and profile. Each plan is the whole work of an operation, the ledger statement last, so that where
the engine has transactions the operation is one of them, and where it has none a retry completes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from airflow_source_simulator import packaged
from airflow_source_simulator.core.guards import Inspection, NewIds
from airflow_source_simulator.core.ledger import LedgerEntry, Operation, record
from airflow_source_simulator.core.statements import Action, Rows, Statement, Step, Stream, Work, packaged_statements
from airflow_source_simulator.core.states import is_packaged, state_digest
from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR, Profile, gains
from airflow_source_simulator.data.stream import delta_chunks, key_ranges, state_chunks, streamed
from airflow_source_simulator.dialects.base import Dialect
from airflow_source_simulator.schema import (
    LEDGER_TABLE,
    LEDGER_VERSION,
    LOYALTY_TIER,
    RUN_KEY,
    TABLES,
    TABLES_BY_NAME,
    SchemaRole,
    Table,
    tables_at,
)
from airflow_source_simulator.version import __version__


@dataclass(frozen=True)
class Plan:
    """What one run of work does: logged under ``title``, with load wording if ``loading``, in one
    transaction if ``transaction`` (and the engine has them)."""

    title: str
    work: tuple[Work, ...]
    loading: bool = False
    transaction: bool = True
    records: LedgerEntry | None = None  # the ledger row the work ends with, if it writes one

    def inserted_tables(self) -> set[str]:
        """The tables this work inserts rows into (a stream may: its chunks are not generated to tell)."""
        statements = {
            s.target for w in self.work if isinstance(w, Statement) for s in w.steps if s.action == Action.INSERT
        }
        return statements | {
            w.table.name
            for w in self.work
            if (isinstance(w, Rows) and w.action in (Action.LOAD, Action.INSERT))
            or (isinstance(w, Stream) and w.inserts)
        }


@dataclass(frozen=True)
class Source:
    """One simulated source: the SQL of its engine, its schemas (as the catalog stores them), scale, profile."""

    dialect: Dialect
    schemas: Mapping[SchemaRole, str]
    scale: int
    profile: Profile

    # --- names ----------------------------------------------------------------------------------
    def qualified(self, table: Table) -> str:
        return f"{self.schemas[table.role]}.{table.name}"

    def ref(self, table: Table) -> str:
        return f"{self.dialect.quote(self.schemas[table.role])}.{table.name}"

    @property
    def ledger_ref(self) -> str:
        return f"{self.dialect.quote(self.schemas['shop'])}.{LEDGER_TABLE}"

    # --- pieces ---------------------------------------------------------------------------------
    def packaged(self, name: str) -> list[Statement]:
        """A packaged file's statements, for this source's schemas."""
        shop, crm = (self.dialect.quote(self.schemas[role]) for role in ("shop", "crm"))
        return [s.with_schemas(shop, crm) for s in packaged_statements(self.dialect.name, name)]

    def ledger_entry(
        self, previous: LedgerEntry | None, operation: Operation, day: int, run_key: str | None
    ) -> LedgerEntry:
        """The ledger row an operation ends with: the next sequence number, the state it leaves."""
        return LedgerEntry(
            seq=(previous.seq if previous else 0) + 1,
            operation=operation,
            day=day,
            scale=self.scale,
            profile=self.profile,
            package_version=__version__,
            ledger_version=LEDGER_VERSION,
            state_digest=state_digest(day, self.scale, self.profile),
            run_key=run_key,
        )

    def ledger_work(self, inspection: Inspection, entry: LedgerEntry) -> tuple[list[Work], Statement]:
        """The ledger's own work: its ``run_key`` column first, for a ledger written before it existed,
        then the row ``entry`` (last of all the operation's work)."""
        migrate: list[Work] = []
        if inspection.owned and not inspection.has_column(LEDGER_TABLE, RUN_KEY.name):
            migrate.append(
                Statement(
                    self.dialect.add_column(self.ledger_ref, RUN_KEY),
                    Step(Action.ADD_COLUMN, f"{LEDGER_TABLE}.{RUN_KEY.name}"),
                )
            )
        return migrate, record(self.dialect, self.ledger_ref, entry, self.schemas)

    def state_work(self, day: int) -> list[Work]:
        """The rows of state ``day``, into emptied tables: packaged SQL, or generated rows streamed in bulk."""
        if day == 0 and is_packaged(day, self.scale, self.profile):
            return [*self.packaged(packaged.BASELINE_FILE)]
        return [self._stream(table, day, self._state_rows, True) for table in tables_at(self.profile, day)]

    def delta_work(self, day: int) -> list[Work]:
        """What ``day`` changes: packaged SQL, or the generated difference of two states, streamed."""
        if is_packaged(day, self.scale, self.profile):
            return [*self.packaged(packaged.day_file(day))]
        return [
            self._stream(table, day, self._delta_rows, gains(table.name, day, self.scale, self.profile))
            for table in tables_at(self.profile, day)
        ]

    def _stream(self, table: Table, day: int, rows: Callable[[Table, int], Iterator[Rows]], inserts: bool) -> Stream:
        parts = len(key_ranges(table.name, day, self.scale)) if streamed(day, self.scale) else 1
        return Stream(table, lambda: rows(table, day), parts, inserts)

    def _state_rows(self, table: Table, day: int) -> Iterator[Rows]:
        ref = self.ref(table)
        for columns in state_chunks(day, self.scale, self.profile, table):
            if len(columns[table.key]):
                yield Rows(Action.LOAD, table, ref, columns)

    def _delta_rows(self, table: Table, day: int) -> Iterator[Rows]:
        ref = self.ref(table)
        for change in delta_chunks(day, self.scale, self.profile, table):
            candidates = [
                Rows(Action.TOUCH, table, ref, change.touched) if change.touched_rows else None,
                Rows(Action.INSERT, table, ref, change.inserted) if change.inserted_rows else None,
                Rows(Action.UPDATE, table, ref, change.updated, change.soft_deleted) if change.updated_rows else None,
                Rows(Action.DELETE, table, ref, {table.key: change.hard_deleted}) if change.hard_deleted.size else None,
            ]
            yield from (rows for rows in candidates if rows is not None)

    def clear_work(self) -> list[Work]:
        """Delete the simulator's rows of every table (children first), keeping rows of the user's own."""
        return [
            Statement(self.dialect.clear(self.ref(t), t, CUSTOM_ID_FLOOR), Step(Action.CLEAR, t.name))
            for t in reversed(TABLES)
        ]

    def schema_change_work(self, day: int, inspection: Inspection) -> list[Work]:
        """Add the profile's column once its day has come, and drop it from a state before that day."""
        present = inspection.has_column("customers", LOYALTY_TIER.name)
        wanted = LOYALTY_TIER.name in tables_at(self.profile, day)[0].column_names
        if wanted == present:
            return []
        ref = self.ref(TABLES_BY_NAME["customers"])
        target = f"customers.{LOYALTY_TIER.name}"
        if wanted:
            return [Statement(self.dialect.add_column(ref, LOYALTY_TIER), Step(Action.ADD_COLUMN, target))]
        return [Statement(self.dialect.drop_column(ref, LOYALTY_TIER), Step(Action.DROP_COLUMN, target))]

    # --- plans ----------------------------------------------------------------------------------
    def load(
        self, inspection: Inspection, operation: Operation, title: str, day: int, run_key: str | None = None
    ) -> Plan:
        """Create what is missing, empty the simulator's tables if any exist, load the state of ``day``.

        A load, a reset and a takeover empty the tables; a fast-forward only clears the simulator's rows, so
        rows of the user's own are kept, as replaying the days keeps them.
        """
        entry = self.ledger_entry(inspection.entry, operation, day, run_key)
        migrate, ledger = self.ledger_work(inspection, entry)
        empty: list[Work] = []
        if inspection.tables:
            empty = (
                self.clear_work() if operation == Operation.FAST_FORWARD else [*self.packaged(packaged.TRUNCATE_FILE)]
            )
        work: list[Work] = [
            *self.packaged(packaged.SCHEMA_FILE),
            *migrate,
            *empty,
            *self.schema_change_work(day, inspection),
            *self.state_work(day),
            ledger,
        ]
        return Plan(title, tuple(work), loading=True, records=entry)

    def day(self, inspection: Inspection, day: int, run_key: str | None = None) -> Plan:
        """Apply ``day`` to the state of the day before."""
        entry = self.ledger_entry(inspection.entry, Operation.APPLY_DELTA, day, run_key)
        migrate, ledger = self.ledger_work(inspection, entry)
        work: list[Work] = [*migrate, *self.schema_change_work(day, inspection), *self.delta_work(day), ledger]
        return Plan(f"Applying day {day:02d} delta changes...", tuple(work), records=entry)

    def cdc(self, mode: str) -> Plan:
        """Switch change capture on for the eight tables; idempotent, outside any transaction (SQL Server
        refuses ALTER DATABASE inside one)."""
        statements = self.dialect.cdc_statements(mode, self.schemas, TABLES)
        return Plan(f"Switching on change capture ({mode})...", tuple(statements), transaction=False)

    # --- queries a plan needs answered first ----------------------------------------------------
    def taken_ids_query(self, ranges: list[NewIds]) -> str:
        """How many rows each table already holds in the ID range a day inserts (rows of the user's own)."""
        return " UNION ALL ".join(
            f"SELECT '{r.table.name}', COUNT(*) FROM {self.ref(r.table)} WHERE {r.table.key} BETWEEN {r.lo} AND {r.hi}"
            for r in ranges
        )

    def counts_query(self, tables: Sequence[Table]) -> str:
        """Per table: its rows, how many are the user's own (keys from the custom floor), and the highest key
        below the floor. One scan of each table serves both status and verify: on Delta every scan of a table
        costs a snapshot read, so the figures are not asked for one by one."""
        floor = CUSTOM_ID_FLOOR
        return " UNION ALL ".join(
            f"SELECT '{t.name}', COUNT(*), SUM(CASE WHEN {t.key} >= {floor} THEN 1 ELSE 0 END), "
            f"MAX(CASE WHEN {t.key} < {floor} THEN {t.key} END) FROM {self.ref(t)}"
            for t in tables
        )

    def rows_query(self, table: Table, where: str = "") -> str:
        """A table's rows in key order (its columns in this profile's order at the state's day)."""
        return f"SELECT {', '.join(table.column_names)} FROM {self.ref(table)}{where} ORDER BY {table.key}"
