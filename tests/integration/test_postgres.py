"""The simulator on a real PostgreSQL server (a private cluster the tests start on loopback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from airflow.providers.postgres.hooks.postgres import PostgresHook

from airflow_source_simulator import packaged
from airflow_source_simulator.core.statements import packaged_statements
from airflow_source_simulator.data.canonical import canonical_rows, digest, format_fetched_rows
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.dialects.postgres import publication_name
from airflow_source_simulator.errors import NotOursError, SimulatorError
from airflow_source_simulator.operators import (
    ApplyDeltaOperator,
    LoadBaselineOperator,
    ResetOperator,
    StatusOperator,
)
from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.sessions.postgres import PostgresSession
from airflow_source_simulator.simulator import Simulator
from tests.support.pgoutput import decode
from tests.support.postgres import PostgresServer
from tests.support.sources import postgres_session


def connect(postgres: PostgresServer, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(postgres.uri(database), autocommit=True)


def dump(postgres: PostgresServer, database: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table in the simulator's schemas (the ledger's wall-clock column excluded)."""
    with connect(postgres, database) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        out = {}
        for schema, table in tables:
            columns = "seq, operation, day, state_digest" if table == "source_simulator_ledger" else "*"
            out[f"{schema}.{table}"] = conn.execute(f'SELECT {columns} FROM "{schema}".{table} ORDER BY 1').fetchall()
        return out


def table_digests(simulator: Simulator) -> dict[str, str]:
    return {
        t.name: digest(
            format_fetched_rows(
                t, simulator.session.query(f"SELECT {', '.join(t.column_names)} FROM {simulator.ref(t)} ORDER BY 1")
            )
        )
        for t in TABLES
    }


def test_baseline_and_every_day_match_the_manifest_on_postgres(pg_simulator: Simulator) -> None:
    assert pg_simulator.load_baseline()["tables"]["jaffle_shop.customers"] == 100
    assert pg_simulator.status(verify=True)["verified"] is True
    for day, customers in ((1, 125), (2, 147), (3, 175)):
        result = pg_simulator.apply_delta(day)
        assert result["tables"]["jaffle_shop.customers"] == customers
        assert pg_simulator.status(verify=True)["verified"] is True


def test_duckdb_and_postgres_hold_identical_tables_at_every_state(pg_simulator: Simulator, tmp_path: Path) -> None:
    duck = Simulator(DuckDBSession.for_database(str(tmp_path / "source.duckdb")))
    duck.load_baseline()
    pg_simulator.load_baseline()
    for day in (0, 1, 2, 3):
        if day:
            duck.apply_delta(day)
            pg_simulator.apply_delta(day)
        on_duckdb, on_postgres = table_digests(duck), table_digests(pg_simulator)
        assert on_duckdb == on_postgres, f"day {day}"
        assert on_postgres == {t: v["digest"] for t, v in packaged.manifest()["states"][str(day)]["tables"].items()}


def test_the_operators_run_on_a_postgres_connection(pg_conn_id: str) -> None:
    kwargs: dict[str, Any] = {"conn_id": pg_conn_id}
    assert LoadBaselineOperator(task_id="load", enable_cdc=True, **kwargs).execute({})["day"] == 0
    publications = postgres_session(pg_conn_id).query("SELECT pubname FROM pg_publication")
    assert publications == [(publication_name("jaffle_shop"),)]
    assert ApplyDeltaOperator(task_id="day", day="next", **kwargs).execute({})["day"] == 1
    assert StatusOperator(task_id="status", verify=True, **kwargs).execute({})["verified"] is True
    assert ResetOperator(task_id="reset", **kwargs).execute({})["tables"]["jaffle_shop.orders"] == 500


def test_repeating_an_operation_changes_nothing(
    pg_simulator: Simulator, postgres: PostgresServer, pg_database: str
) -> None:
    pg_simulator.load_baseline()
    pg_simulator.apply_delta(1)
    before = dump(postgres, pg_database)
    assert pg_simulator.load_baseline()["changed"] is False
    assert pg_simulator.apply_delta(1)["changed"] is False
    assert dump(postgres, pg_database) == before


class FaultyPostgresHook(PostgresHook):
    """A real PostgreSQL hook whose connection fails when statement number ``fail_at`` runs."""

    def __init__(self, fail_at: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_at, self.seen = fail_at, 0

    def _run_command(self, cur: Any, sql_statement: str, parameters: Any) -> None:
        self.seen += 1
        if self.seen == self.fail_at:
            raise ConnectionError(f"injected fault at statement {self.fail_at}")
        super()._run_command(cur, sql_statement, parameters)


@pytest.mark.parametrize("operation", ["load_baseline", "apply_delta", "reset"])
def test_a_fault_at_any_statement_leaves_the_previous_state(
    pg_conn_id: str, postgres: PostgresServer, pg_database: str, operation: str
) -> None:
    """Fail the operation at every statement it runs; each time nothing changes, and a retry converges."""
    files = {"load_baseline": ["schema.sql", "baseline.sql"], "apply_delta": ["day_01.sql"]}
    files["reset"] = [*files["load_baseline"], "truncate.sql"]
    # The ledger lookups (information_schema, then the ledger) run before the operation's statements.
    reads = 1 if operation == "load_baseline" else 2
    total = reads + sum(len(packaged_statements("postgres", f)) for f in files[operation]) + 1
    args = [1] if operation == "apply_delta" else []
    if operation != "load_baseline":
        Simulator(postgres_session(pg_conn_id)).load_baseline()
    before = dump(postgres, pg_database)
    for position in range(reads + 1, total + 1):
        hook = FaultyPostgresHook(position, postgres_conn_id=pg_conn_id, log_sql=False)
        with pytest.raises(ConnectionError, match="injected fault"):
            getattr(Simulator(PostgresSession(hook)), operation)(*args)
        assert dump(postgres, pg_database) == before, f"{operation}: a fault at statement {position} left changes"
    final = getattr(Simulator(postgres_session(pg_conn_id)), operation)(*args)
    assert final["tables"]["jaffle_shop.customers"] == (125 if operation == "apply_delta" else 100)
    assert Simulator(postgres_session(pg_conn_id)).status(verify=True)["verified"] is True


def test_tables_the_simulator_did_not_create_are_refused_unless_forced(
    pg_conn_id: str, postgres: PostgresServer, pg_database: str
) -> None:
    with connect(postgres, pg_database) as conn:
        conn.execute("CREATE SCHEMA jaffle_shop")
        conn.execute("CREATE TABLE jaffle_shop.customers (customer_id INTEGER PRIMARY KEY, note TEXT)")
        conn.execute("INSERT INTO jaffle_shop.customers VALUES (1, 'theirs')")
    before = dump(postgres, pg_database)
    with pytest.raises(NotOursError, match=r"jaffle_shop\.customers already exist"):
        Simulator(postgres_session(pg_conn_id)).load_baseline()
    assert dump(postgres, pg_database) == before


def test_reset_removes_custom_rows(pg_simulator: Simulator, postgres: PostgresServer, pg_database: str) -> None:
    pg_simulator.load_baseline()
    pg_simulator.apply_delta(1)
    with connect(postgres, pg_database) as conn:
        conn.execute(
            "INSERT INTO jaffle_shop.customers VALUES "
            "(5001, 'Ada', 'Custom', 'ada@example.com', '2024-04-01', '2024-04-01', NULL)"
        )
    assert pg_simulator.reset()["tables"]["jaffle_shop.customers"] == 100
    assert pg_simulator.status(verify=True)["verified"] is True


def _expected_changes(day: int) -> dict[str, dict[str, dict[int, str]]]:
    """Per table, the canonical rows a day inserts and updates, by key."""
    out = {}
    for table in TABLES:
        change = day_delta(day)[table.name]
        out[table.name] = {
            kind: {int(line.split("|")[0]): line for line in canonical_rows(table, rows)}
            for kind, rows in (("insert", change.inserted), ("update", change.updated))
        }
    return out


def _canonical(table_name: str, values: dict[str, str | None]) -> str:
    table = next(t for t in TABLES if t.name == table_name)
    text = {"t": "true", "f": "false"}
    return "|".join(
        "\\N" if (v := values[c.name]) is None else text.get(v, v) if c.type == "bool" else v for c in table.columns
    )


def test_a_days_changes_reach_a_logical_replication_subscriber(
    pg_conn_id: str, postgres: PostgresServer, pg_database: str
) -> None:
    """Through the publication, a pgoutput slot sees exactly the day's inserts, updates and soft deletes."""
    simulator = Simulator(postgres_session(pg_conn_id), enable_cdc=True)
    simulator.load_baseline()
    publication = publication_name("jaffle_shop")
    with connect(postgres, pg_database) as conn:
        published = conn.execute(
            "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", [publication]
        )
        assert sorted(published.fetchall()) == sorted(
            (("jaffle_crm", "jaffle_shop")[t.role == "shop"], t.name) for t in TABLES
        )
        conn.execute("SELECT pg_create_logical_replication_slot('subscriber', 'pgoutput')")
        simulator.apply_delta(1)
        rows = conn.execute(
            "SELECT data FROM pg_logical_slot_get_binary_changes('subscriber', NULL, NULL, "
            "'proto_version', '1', 'publication_names', %s)",
            [publication],
        ).fetchall()
    changes = decode([r[0] for r in rows])
    assert {c.kind for c in changes} <= {"insert", "update"}
    assert not [c for c in changes if c.table.endswith("source_simulator_ledger")], "the ledger is not source data"
    expected = _expected_changes(1)
    for table in TABLES:
        seen: dict[str, dict[int, str]] = {"insert": {}, "update": {}}
        for change in changes:
            if change.table == f"{('jaffle_crm', 'jaffle_shop')[table.role == 'shop']}.{table.name}":
                key = int(str(change.new[table.key]))
                assert key not in seen[change.kind], f"{table.name} {key} {change.kind}d twice"
                seen[change.kind][key] = _canonical(table.name, change.new)
        assert seen == expected[table.name], table.name
    soft_deleted = [c for c in changes if c.kind == "update" and c.new["deleted_at"] is not None]
    assert len(soft_deleted) >= sum(day_delta(1)[t.name].soft_deleted for t in TABLES) > 0


def test_enable_cdc_is_idempotent_and_names_what_a_platform_lacks(pg_conn_id: str, tmp_path: Path) -> None:
    simulator = Simulator(postgres_session(pg_conn_id), enable_cdc=True)
    simulator.load_baseline()
    simulator.load_baseline()  # the publication exists: no error
    with pytest.raises(SimulatorError, match="enable_cdc='cdc' is not a change-capture mechanism of PostgreSQL"):
        Simulator(postgres_session(pg_conn_id), enable_cdc="cdc")
    with pytest.raises(SimulatorError, match="not available on DuckDB"):
        Simulator(DuckDBSession.for_database(str(tmp_path / "x.duckdb")), enable_cdc=True)
