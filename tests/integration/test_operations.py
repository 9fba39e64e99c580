"""Load, apply, reset and status on a real DuckDB file: idempotency, refusals, atomicity, verification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

from airflow_source_simulator import packaged
from airflow_source_simulator.core.statements import packaged_statements
from airflow_source_simulator.errors import NotOursError, SimulatorError, VerificationError
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.sources import SimulatorFactory

DAY_COUNTS = {0: 100, 1: 125, 2: 147, 3: 175}


def customers(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT count(*) FROM jaffle_shop.customers").fetchall()[0][0]


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the ledger's wall-clock column excluded)."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2").fetchall()
        out = {}
        for schema, table in tables:
            columns = "* EXCLUDE (applied_at)" if table == "source_simulator_ledger" else "*"
            out[f"{schema}.{table}"] = con.execute(f"SELECT {columns} FROM {schema}.{table} ORDER BY 1").fetchall()
        return out


def test_status_reports_every_table_and_is_json_serialisable(simulator: Simulator) -> None:
    result = simulator.load_baseline()
    assert result["day"] == 0 and result["changed"] is True
    assert result["tables"] == {
        "jaffle_shop.customers": 100,
        "jaffle_shop.products": 20,
        "jaffle_shop.orders": 500,
        "jaffle_shop.order_items": 1200,
        "jaffle_shop.payments": 0,
        "jaffle_crm.campaigns": 5,
        "jaffle_crm.email_activity": 100,
        "jaffle_crm.web_sessions": 150,
    }
    assert result["state_digest"] == packaged.manifest()["states"]["0"]["state_digest"]
    json.dumps(result)


def test_status_of_an_empty_database_reports_nothing_loaded(simulator: Simulator) -> None:
    result = simulator.status()
    assert result["day"] is None
    assert set(result["tables"].values()) == {None}


def test_load_twice_is_a_no_op(simulator: Simulator, duckdb_path: Path) -> None:
    simulator.load_baseline()
    before = dump(duckdb_path)
    again = simulator.load_baseline()
    assert again["changed"] is False and again["tables"]["jaffle_shop.customers"] == 100
    assert dump(duckdb_path) == before


def test_reapplying_an_applied_day_is_a_no_op(simulator: Simulator, duckdb_path: Path) -> None:
    simulator.load_baseline()
    simulator.apply_delta(1)
    simulator.apply_delta(2)
    before = dump(duckdb_path)
    for day in (1, 2, "2"):
        assert simulator.apply_delta(day)["changed"] is False
    assert dump(duckdb_path) == before


def test_next_applies_the_day_after_the_ledgers(simulator: Simulator) -> None:
    simulator.load_baseline()
    assert simulator.apply_delta("next")["day"] == 1
    assert simulator.apply_delta("next")["day"] == 2


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (0, "day=0 is not valid: days start at 1"),
        (-1, "day=-1 is not valid: days start at 1"),
        (3651, "day=3651 is past the last simulated day, 3650"),
        ("abc", "day='abc' is not a whole number"),
        ("2.5", "day='2.5' is not a whole number"),
        ("", "day='' is not a whole number"),
        (2.5, "day=2.5 is not valid"),
        (None, "day=None is not valid"),
        (True, "day=True is not valid"),
    ],
)
def test_bad_days_are_refused_before_touching_data(
    simulator: Simulator, duckdb_path: Path, day: object, message: str
) -> None:
    simulator.load_baseline()
    before = dump(duckdb_path)
    with pytest.raises(SimulatorError, match=message.replace("(", r"\(")):
        simulator.apply_delta(day)
    assert dump(duckdb_path) == before


def test_days_must_be_applied_in_order(simulator: Simulator, duckdb_path: Path) -> None:
    simulator.load_baseline()
    simulator.apply_delta(1)
    before = dump(duckdb_path)
    with pytest.raises(SimulatorError, match=r"database is at day 1. Apply day 2 first"):
        simulator.apply_delta(3)
    assert dump(duckdb_path) == before


def test_a_delta_without_a_baseline_is_refused(simulator: Simulator, duckdb_path: Path) -> None:
    with pytest.raises(SimulatorError, match=r"no baseline .* Run LoadBaselineOperator first"):
        simulator.apply_delta(1)
    assert not duckdb_path.exists() or dump(duckdb_path) == {}


def test_next_goes_on_past_the_classic_days(simulator: Simulator) -> None:
    simulator.load_baseline()
    for day in (1, 2, 3):
        simulator.apply_delta(day)
    assert simulator.apply_delta("next")["day"] == 4
    assert simulator.status(verify=True)["verified"] is True


class FaultyHook(DuckDBHook):
    """A real DuckDB hook whose connection dies when statement number ``fail_at`` runs."""

    def __init__(self, fail_at: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_at = fail_at
        self.seen = 0

    def _run_command(self, cur: Any, sql_statement: str, parameters: Any) -> None:
        self.seen += 1
        if self.seen == self.fail_at:
            raise ConnectionError(f"injected fault at statement {self.fail_at}")
        super()._run_command(cur, sql_statement, parameters)


def _statements_of(operation: str) -> int:
    files = {"apply_delta": ["day_01.sql"], "load_baseline": ["schema.sql", "baseline.sql"]}[operation]
    # BEGIN, the packaged statements, the ledger row, COMMIT
    return 1 + sum(len(packaged_statements("duckdb", f)) for f in files) + 2


@pytest.mark.parametrize("operation", ["load_baseline", "apply_delta"])
def test_a_fault_at_any_statement_leaves_the_previous_state(tmp_path: Path, operation: str) -> None:
    """Kill the operation at every statement position; each time nothing changes, and a retry converges."""
    statements = _statements_of(operation)
    for position in range(2, statements + 1):
        path = tmp_path / f"fault-{operation}-{position}.duckdb"
        if operation == "apply_delta":
            Simulator(DuckDBSession.for_database(str(path))).load_baseline()
        before = dump(path) if path.exists() else {}
        faulty = Simulator(DuckDBSession(FaultyHook(position, database=str(path), log_sql=False)))
        with pytest.raises(ConnectionError, match="injected fault"):
            getattr(faulty, operation)(*([1] if operation == "apply_delta" else []))
        assert dump(path) == before, f"{operation}: a fault at statement {position} left changes behind"
        retried = getattr(Simulator(DuckDBSession.for_database(str(path))), operation)(
            *([1] if operation == "apply_delta" else [])
        )
        assert retried["tables"]["jaffle_shop.customers"] == (125 if operation == "apply_delta" else 100)


def test_a_custom_row_on_an_id_the_day_inserts_is_refused_by_name(simulator: Simulator, duckdb_path: Path) -> None:
    simulator.load_baseline()
    with duckdb.connect(str(duckdb_path)) as con:  # a user row squatting on an ID day 1 inserts
        con.execute(
            "INSERT INTO jaffle_shop.orders VALUES (560, 1, DATE '2024-04-01', 'pending', "
            "TIMESTAMP '2024-04-01 00:00:00', TIMESTAMP '2024-04-01 00:00:00', NULL)"
        )
    before = dump(duckdb_path)
    with pytest.raises(SimulatorError, match=r"jaffle_shop.orders IDs 501-560: 1 taken\). Nothing was changed"):
        simulator.apply_delta(1)
    assert dump(duckdb_path) == before
    assert simulator.status()["day"] == 0


def test_reset_removes_custom_rows_and_returns_to_the_baseline(
    make_simulator: SimulatorFactory, simulator: Simulator, duckdb_path: Path, tmp_path: Path
) -> None:
    simulator.load_baseline()
    for day in (1, 2, 3):
        simulator.apply_delta(day)
    with duckdb.connect(str(duckdb_path)) as con:
        con.execute(
            "INSERT INTO jaffle_shop.customers VALUES (5001, 'Custom', 'Row', 'custom@example.com', "
            "TIMESTAMP '2024-05-01 00:00:00', TIMESTAMP '2024-05-01 00:00:00', NULL)"
        )
    result = simulator.reset()
    assert result["day"] == 0 and result["tables"]["jaffle_shop.customers"] == 100
    fresh = tmp_path / "fresh.duckdb"
    make_simulator(fresh).load_baseline()
    reset_data, fresh_data = dump(duckdb_path), dump(fresh)
    ledger = "jaffle_shop.source_simulator_ledger"
    assert [r[1] for r in reset_data.pop(ledger)] == [
        "load_baseline",
        "apply_delta",
        "apply_delta",
        "apply_delta",
        "reset",
    ]
    fresh_data.pop(ledger)
    assert reset_data == fresh_data
    assert simulator.apply_delta(1)["tables"]["jaffle_shop.customers"] == 125


def test_reset_on_an_empty_database_loads_the_baseline(simulator: Simulator) -> None:
    assert simulator.reset()["tables"]["jaffle_shop.customers"] == 100


@pytest.mark.parametrize("operation", ["load_baseline", "reset"])
def test_tables_the_simulator_did_not_create_are_left_alone(
    simulator: Simulator, duckdb_path: Path, operation: str
) -> None:
    with duckdb.connect(str(duckdb_path)) as con:
        con.execute("CREATE SCHEMA jaffle_shop; CREATE TABLE jaffle_shop.customers (id INTEGER, note VARCHAR)")
        con.execute("INSERT INTO jaffle_shop.customers VALUES (1, 'precious')")
    before = dump(duckdb_path)
    with pytest.raises(NotOursError, match=r"jaffle_shop.customers already exist but were not created by"):
        getattr(simulator, operation)()
    assert dump(duckdb_path) == before


def test_force_takes_over_same_named_tables_of_the_same_shape(simulator: Simulator, duckdb_path: Path) -> None:
    with duckdb.connect(str(duckdb_path)) as con:
        con.execute(
            "CREATE SCHEMA jaffle_crm; CREATE TABLE jaffle_crm.campaigns (campaign_id INTEGER PRIMARY KEY, "
            "campaign_name VARCHAR, start_date DATE, end_date DATE, budget DECIMAL(10,2), "
            "created_at TIMESTAMP, updated_at TIMESTAMP, deleted_at TIMESTAMP)"
        )
        con.execute("INSERT INTO jaffle_crm.campaigns VALUES (1, 'old', NULL, NULL, 1, NULL, NULL, NULL)")
    assert simulator.load_baseline(force=True)["tables"]["jaffle_crm.campaigns"] == 5


@pytest.mark.parametrize("bad", ["jaffle shop", "x;drop table y", 'a"b', "ünïcode", "1abc", "", "a" * 64])
def test_schema_names_that_are_not_plain_identifiers_are_refused(make_simulator: SimulatorFactory, bad: str) -> None:
    with pytest.raises(ValueError, match=r"shop_schema=.* is not a plain identifier"):
        make_simulator(shop_schema=bad)


def test_custom_schema_names_hold_the_same_data(make_simulator: SimulatorFactory, tmp_path: Path) -> None:
    custom = make_simulator(tmp_path / "custom.duckdb", shop_schema="erp", crm_schema="marketing")
    custom.load_baseline()
    result = custom.apply_delta(1)
    assert result["tables"]["erp.customers"] == 125 and result["tables"]["marketing.web_sessions"] == 200
    assert custom.status(verify=True)["verified"] is True


def test_two_fresh_databases_are_identical_to_the_byte(make_simulator: SimulatorFactory, tmp_path: Path) -> None:
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    for path in (first, second):
        simulator = make_simulator(path)
        simulator.load_baseline()
        for day in (1, 2, 3):
            simulator.apply_delta(day)
    assert dump(first) == dump(second)
    assert make_simulator(first).status(verify=True)["verified"] is True


def test_verify_names_the_table_and_the_expected_and_found_figures(simulator: Simulator, duckdb_path: Path) -> None:
    simulator.load_baseline()
    simulator.apply_delta(1)
    assert simulator.status(verify=True)["verified"] is True
    with duckdb.connect(str(duckdb_path)) as con:
        con.execute("UPDATE jaffle_shop.orders SET customer_id = customer_id + 1 WHERE order_id = 7")
        con.execute("DELETE FROM jaffle_crm.web_sessions WHERE session_id = 200")
    with pytest.raises(VerificationError) as failure:
        simulator.status(verify=True)
    message = str(failure.value)
    assert "manifest of day 1" in message
    assert "jaffle_shop.orders: expected 560 rows (IDs 1-560, digest" in message
    assert "jaffle_crm.web_sessions: expected 200 rows (IDs 1-200" in message and "found 199 rows (IDs 1-199" in message
    assert "customers" not in message


def test_status_is_read_only(simulator: Simulator, duckdb_path: Path) -> None:
    simulator.load_baseline()
    before = dump(duckdb_path)
    simulator.status(verify=True)
    assert dump(duckdb_path) == before


def test_a_ledger_from_a_newer_package_is_refused(simulator: Simulator, duckdb_path: Path) -> None:
    simulator.load_baseline()
    with duckdb.connect(str(duckdb_path)) as con:
        con.execute("UPDATE jaffle_shop.source_simulator_ledger SET ledger_version = 99, package_version = '9.0.0'")
    with pytest.raises(
        SimulatorError, match=r"written by airflow-source-simulator 9.0.0 \(ledger version 99\).*Upgrade"
    ):
        simulator.apply_delta(1)
