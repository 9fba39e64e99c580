"""Never touch what is not ours: tables of other people beside the simulator's, in its schemas and in
others, survive every operation; same-named tables it did not create are refused unless ``force``.

tests/integration/test_operations.py refuses foreign tables on DuckDB (load and reset) and takes them over with
``force``; tests/integration/test_postgres.py refuses them on PostgreSQL (load). Here: both engines, both operations,
with other tables beside them, and every statement of every writing operation checked for its target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from airflow_source_simulator.dialects.duckdb import DUCKDB
from airflow_source_simulator.dialects.postgres import POSTGRES
from airflow_source_simulator.errors import NotOursError
from airflow_source_simulator.schema import LEDGER_TABLE, TABLES, TABLES_BY_NAME
from airflow_source_simulator.simulator import Simulator
from tests.support.harness import DuckDBSource, Fault, Snapshot, Source, holds_state, ledger_rows

SCHEMAS = ("jaffle_shop", "jaffle_crm", "jaffle_shop_archive")
OURS = {f"{'jaffle_shop' if t.role == 'shop' else 'jaffle_crm'}.{t.name}" for t in TABLES} | {
    f"jaffle_shop.{LEDGER_TABLE}"
}
# Other people's tables: beside the simulator's in its schemas, and same-named ones in a schema of theirs.
BYSTANDERS = [
    "CREATE SCHEMA IF NOT EXISTS jaffle_shop",
    "CREATE SCHEMA IF NOT EXISTS jaffle_crm",
    "CREATE SCHEMA IF NOT EXISTS jaffle_shop_archive",
    "CREATE TABLE jaffle_shop.my_notes (note_id INTEGER PRIMARY KEY, body VARCHAR(100))",
    "INSERT INTO jaffle_shop.my_notes VALUES (1, 'keep me'), (2, 'and me')",
    "CREATE TABLE jaffle_crm.audit_log (entry_id INTEGER, what VARCHAR(100))",
    "INSERT INTO jaffle_crm.audit_log VALUES (1, 'nobody deletes this')",
    "CREATE TABLE jaffle_shop_archive.customers (customer_id INTEGER PRIMARY KEY, first_name VARCHAR(50))",
    "INSERT INTO jaffle_shop_archive.customers VALUES (1, 'Old'), (5001, 'Archived')",
    f"CREATE TABLE jaffle_shop_archive.{LEDGER_TABLE} (seq INTEGER, note VARCHAR(20))",
    f"INSERT INTO jaffle_shop_archive.{LEDGER_TABLE} VALUES (1, 'not the simulator''s')",
]


def execute(source: Source, *statements: str) -> None:
    if isinstance(source, DuckDBSource):
        import duckdb

        with duckdb.connect(str(source.path)) as con:
            for sql in statements:
                con.execute(sql)
        return
    import psycopg

    with psycopg.connect(source.server.uri(source.name), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def snapshot(source: Source) -> Snapshot:
    from tests.support.harness import duckdb_snapshot, postgres_snapshot

    if isinstance(source, DuckDBSource):
        return duckdb_snapshot(source.path, SCHEMAS)
    return postgres_snapshot(source.server.uri(source.name), SCHEMAS)


def theirs(snapshot: Snapshot) -> Snapshot:
    return {name: rows for name, rows in snapshot.items() if name not in OURS}


def test_other_tables_in_and_beside_the_simulators_schemas_survive_every_operation(source: Source) -> None:
    execute(source, *BYSTANDERS)
    before = theirs(snapshot(source))
    assert len(before) == 4
    operations: list[tuple[str, Callable[[], object]]] = [
        ("load", lambda: Simulator(source.session()).load_baseline()),
        ("apply day 1", lambda: Simulator(source.session()).apply_delta(1)),
        ("apply day 2", lambda: Simulator(source.session()).apply_delta(2)),
        ("fast-forward to day 5", lambda: Simulator(source.session()).apply_delta(5, fast_forward=True)),
        ("reset", lambda: Simulator(source.session()).reset()),
        ("reset to the cdc profile", lambda: Simulator(source.session(), profile="cdc").reset()),
        (
            "cdc day 5 (adds a column)",
            lambda: Simulator(source.session(), profile="cdc").apply_delta(5, fast_forward=True),
        ),
        ("reset, force (drops the column)", lambda: Simulator(source.session()).reset(force=True)),
        ("load, force", lambda: Simulator(source.session()).load_baseline(force=True)),
        ("status, verify", lambda: Simulator(source.session()).status(verify=True)),
    ]
    for name, operation in operations:
        operation()
        now = snapshot(source)
        assert theirs(now) == before, f"{name} touched a table that is not the simulator's"
        assert set(now) == OURS | set(before), f"{name} created or dropped a table"
    assert holds_state(snapshot(source), 0)


def _customers_ddl(source: Source) -> str:
    dialect = DUCKDB if isinstance(source, DuckDBSource) else POSTGRES
    return dialect.create_table("jaffle_shop.customers", TABLES_BY_NAME["customers"].columns)


@pytest.mark.parametrize("operation", ["load_baseline", "reset"])
def test_same_named_tables_the_simulator_did_not_create_are_refused_unless_forced(
    source: Source, operation: str
) -> None:
    execute(
        source,
        *BYSTANDERS[:7],
        _customers_ddl(source),
        "INSERT INTO jaffle_shop.customers VALUES (7, 'Their', 'Row', 'their@example.com', "
        "TIMESTAMP '2024-05-01 00:00:00', TIMESTAMP '2024-05-01 00:00:00', NULL)",
    )
    before = snapshot(source)
    with pytest.raises(NotOursError) as refused:
        getattr(Simulator(source.session()), operation)()
    assert "jaffle_shop.customers already exist but were not created by the source simulator" in str(refused.value)
    assert "Nothing was changed" in str(refused.value) and "force=True" in str(refused.value)
    assert snapshot(source) == before
    # With force the same-named table is taken over (its rows replaced); the table beside it is not.
    getattr(Simulator(source.session()), operation)(force=True)
    after = snapshot(source)
    assert holds_state(after, 0) and [row[1] for row in ledger_rows(after)] == [operation]
    assert (
        theirs(after)
        == theirs(before)
        == {
            "jaffle_shop.my_notes": [(1, "keep me"), (2, "and me")],
            "jaffle_crm.audit_log": [(1, "nobody deletes this")],
        }
    )


WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Alter, exp.Drop, exp.TruncateTable)


def _written_tables(sql: str, dialect: str) -> set[str]:
    """The tables a statement writes (its target), ``schema.table``; nothing for a read."""
    if sql.startswith("COPY "):  # COPY … FROM STDIN, which sqlglot does not parse: its target is the next word
        table = sql.split()[1]
        return {".".join(part.strip('"') for part in table.split("."))} if "." in table else {f".{table}"}
    tree = sqlglot.parse_one(sql, read=dialect)
    assert not isinstance(tree, exp.Command), f"not parsed, so not checked: {sql[:80]}"
    if not isinstance(tree, WRITES):
        return set()
    if isinstance(tree, exp.Create) and tree.kind == "SCHEMA":
        return {f"schema {tree.this.db or tree.this.name}"}
    target = tree.this
    while target is not None and not isinstance(target, exp.Table):  # INSERT INTO t (columns), CREATE TABLE t (…)
        target = target.this
    target = target or tree.find(exp.Table)  # DROP TABLE keeps its table among its expressions
    assert target is not None, sql[:80]
    return {f"{target.db}.{target.name}"}


def test_every_statement_of_every_writing_operation_writes_only_the_simulators_tables(source: Source) -> None:
    """Structural: the target of every statement sent (packaged, generated in bulk, cdc) is one of ours."""
    dialect = "duckdb" if isinstance(source, DuckDBSource) else "postgres"
    fault = Fault()

    def simulator(**kwargs: Any) -> Simulator:
        return Simulator(source.session(fault), **kwargs)

    simulator().load_baseline()
    simulator().apply_delta(1)
    simulator().apply_delta(4, fast_forward=True)
    simulator().apply_delta(5)
    simulator().reset()
    simulator(profile="cdc", scale=2).reset()
    simulator(profile="cdc", scale=2).apply_delta(5, fast_forward=True)
    simulator(profile="cdc", scale=2).apply_delta(6)
    simulator().reset(force=True)
    written = set().union(*(_written_tables(sql, dialect) for sql in fault.statements))
    # COPY and the bulk paths stage rows in a temporary table (PostgreSQL) or a registered view (DuckDB).
    staging = {".source_simulator_rows"}
    assert written - staging == OURS | {"schema jaffle_shop", "schema jaffle_crm"}
