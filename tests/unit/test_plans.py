"""The plan of each operation, computed without a database: what it runs, in which order, ledger last."""

from __future__ import annotations

import pytest

from airflow_source_simulator import packaged
from airflow_source_simulator.core.guards import Inspection
from airflow_source_simulator.core.ledger import LedgerEntry, Operation
from airflow_source_simulator.core.plans import Plan, Source
from airflow_source_simulator.core.statements import Action, Rows, Statement, Stream, Work, packaged_statements
from airflow_source_simulator.data.scenario import CDC, CLASSIC, SCHEMA_CHANGE_DAY, Profile
from airflow_source_simulator.dialects import DIALECTS, Dialect
from airflow_source_simulator.dialects.duckdb import DUCKDB
from airflow_source_simulator.schema import LEDGER, LOYALTY_TIER, TABLES, tables_at

SCHEMAS = {"shop": "erp", "crm": "crm"}
EMPTY = Inspection(None, frozenset(), owned=False)


def source(profile: Profile = CLASSIC, scale: int = 1, dialect: Dialect = DUCKDB) -> Source:
    return Source(dialect, SCHEMAS, scale, profile)  # type: ignore[arg-type]


def loaded_at(day: int, profile: Profile = CLASSIC, scale: int = 1) -> Inspection:
    """A database at ``day`` with every table and column of that state, and a ledger of this version."""
    entry = LedgerEntry(4, "apply_delta", day, scale, profile, "0.1.0", 1, "")
    columns = {t.name: dict.fromkeys(t.column_names, False) for t in (*tables_at(profile, day), LEDGER)}
    return Inspection(entry, frozenset(t.name for t in TABLES), owned=True, columns=columns)


def expand(work: tuple[Work, ...]) -> list[Statement | Rows]:
    """The work with every stream's chunks generated (the session does that as it runs)."""
    return [piece for w in work for piece in (w.chunks() if isinstance(w, Stream) else [w])]


def actions(work: tuple[Work, ...]) -> list[tuple[str, str]]:
    return [
        (str(w.step.action), w.step.target) if isinstance(w, Statement) else (str(w.action), w.table.name)
        for w in expand(work)
    ]


def ledger_of(plan: Plan) -> Statement:
    last = plan.work[-1]
    assert isinstance(last, Statement) and last.step.action == Action.LEDGER, "the ledger statement comes last"
    return last


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_first_load_creates_then_loads_the_packaged_baseline_and_records_it_last(dialect: Dialect) -> None:
    plan = source(dialect=dialect).load(EMPTY, Operation.LOAD_BASELINE, "Loading...", 0)
    schema = packaged_statements(dialect.name, packaged.SCHEMA_FILE)
    baseline = packaged_statements(dialect.name, packaged.BASELINE_FILE)
    assert plan.loading and plan.transaction
    assert len(plan.work) == len(schema) + len(baseline) + 1
    assert [w.step for w in plan.work[:-1]] == [s.step for s in (*schema, *baseline)]  # type: ignore[union-attr]
    assert not any(w.step.action == Action.DELETE for w in plan.work if isinstance(w, Statement)), "nothing to empty"
    ledger = ledger_of(plan)
    assert (ledger.step.target, ledger.step.rows) == ("load_baseline", 0)
    quoted = dialect.quote("erp")
    assert quoted in ledger.sql and "{{" not in "".join(w.sql for w in plan.work if isinstance(w, Statement))


def test_a_load_over_existing_tables_empties_them_first_in_reverse_key_order() -> None:
    plan = source().load(loaded_at(3), Operation.RESET, "Resetting...", 0)
    deletes = [w.step.target for w in plan.work if isinstance(w, Statement) and w.step.action == Action.DELETE]
    assert deletes == [t.name for t in reversed(TABLES)]
    assert "seq, operation, day" in ledger_of(plan).sql and "'5|reset|0|1|classic|erp|crm|" in ledger_of(plan).sql


def test_a_classic_day_runs_its_packaged_file_and_records_the_next_sequence() -> None:
    plan = source().day(loaded_at(0), 1)
    day_file = packaged_statements("duckdb", packaged.day_file(1))
    assert [w.step for w in plan.work[:-1]] == [s.step for s in day_file]  # type: ignore[union-attr]
    assert ledger_of(plan).step.rows == 1 and "'5|apply_delta|1|1|classic|" in ledger_of(plan).sql
    assert plan.title == "Applying day 01 delta changes..." and not plan.loading


def test_a_generated_day_inserts_updates_and_hard_deletes_rows_of_its_own_tables() -> None:
    plan = source(CDC).day(loaded_at(1, CDC), 2)
    rows = [w for w in expand(plan.work) if isinstance(w, Rows)]
    assert rows and all(r.ref.startswith('"erp".') or r.ref.startswith('"crm".') for r in rows)
    kinds = {(r.table.name, r.action) for r in rows}
    assert ("customers", Action.TOUCH) in kinds, "the cdc profile saves updated customers twice"
    assert ("web_sessions", Action.DELETE) in kinds, "day 2 of the cdc profile hard-deletes sessions"
    touched = next(r for r in rows if r.action == Action.TOUCH)
    updated = next(r for r in rows if r.action == Action.UPDATE and r.table.name == "customers")
    assert actions(plan.work).index(("touch", "customers")) < actions(plan.work).index(("update", "customers"))
    assert (touched.columns["updated_at"] < updated.columns["updated_at"]).all()


def test_the_schema_change_is_added_on_its_day_and_only_once() -> None:
    cdc = source(CDC)
    added = cdc.day(loaded_at(SCHEMA_CHANGE_DAY - 1, CDC), SCHEMA_CHANGE_DAY)
    first = added.work[0]
    assert isinstance(first, Statement) and first.step.action == Action.ADD_COLUMN
    assert first.sql == f'ALTER TABLE "erp".customers ADD COLUMN {LOYALTY_TIER.name} VARCHAR(20)'
    again = cdc.day(loaded_at(SCHEMA_CHANGE_DAY, CDC), SCHEMA_CHANGE_DAY + 1)
    assert Action.ADD_COLUMN not in {w.step.action for w in again.work if isinstance(w, Statement)}


def test_fast_forward_past_the_schema_change_adds_the_column_before_loading_rows_that_carry_it() -> None:
    plan = source(CDC).load(EMPTY, Operation.FAST_FORWARD, "Fast-forwarding...", 6)
    steps = actions(plan.work)
    assert steps.index(("add_column", "customers.loyalty_tier")) < steps.index(("load", "customers"))
    customers = next(w for w in expand(plan.work) if isinstance(w, Rows) and w.table.name == "customers")
    assert LOYALTY_TIER.name in customers.columns


def test_a_reset_of_a_cdc_database_past_the_change_drops_the_column() -> None:
    plan = source(CDC).load(loaded_at(6, CDC), Operation.RESET, "Resetting...", 0)
    assert ("drop_column", "customers.loyalty_tier") in actions(plan.work)


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d.cdc_modes], ids=lambda d: d.name)
def test_change_capture_runs_outside_the_operations_transaction(dialect: Dialect) -> None:
    plan = source(dialect=dialect).cdc(dialect.cdc_modes[0])
    assert not plan.transaction and plan.work
    assert all(isinstance(w, Statement) and w.step.action == Action.CDC for w in plan.work)


def test_the_query_for_taken_ids_covers_each_new_range() -> None:
    from airflow_source_simulator.core.guards import new_ids

    sql = source().taken_ids_query(new_ids(1, 1))
    assert "customer_id BETWEEN 101 AND 125" in sql and "payment_id BETWEEN 1 AND 272" in sql
    assert "product_id" not in sql, "day 1 adds no products"
