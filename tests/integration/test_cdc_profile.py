"""The cdc profile on DuckDB and PostgreSQL: every day verifies, its keys are the packaged changes', fast-forward
equals replaying, the schema change comes and goes, and a logical replication subscriber sees it all."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_source_simulator import packaged
from airflow_source_simulator.dialects.postgres import publication_name
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.operators import ApplyDeltaOperator
from airflow_source_simulator.schema import LOYALTY_TIER, TABLES
from airflow_source_simulator.simulator import Simulator
from tests.support.pgoutput import decode
from tests.support.postgres import PostgresServer
from tests.support.sources import SimulatorFactory, digests, postgres_session


def keys(simulator: Simulator) -> dict[str, set[int]]:
    return {
        t.name: {int(r[0]) for r in simulator.session.query(f"SELECT {t.key} FROM {simulator.ref(t)}")} for t in TABLES
    }


def test_every_cdc_day_verifies_and_its_keys_match_the_manifest(make_simulator: SimulatorFactory) -> None:
    simulator = make_simulator(profile="cdc")
    simulator.load_baseline()
    expected = packaged.changes()["cdc"]
    for day in range(1, 8):
        before = keys(simulator)
        simulator.apply_delta(day)
        after = keys(simulator)
        assert simulator.status(verify=True)["verified"], f"day {day}"
        for name, change in expected[str(day)]["tables"].items():
            assert after[name] - before[name] == set(change["inserted"]) - before[name], f"{name} day {day}"
            assert before[name] - after[name] == set(change["hard_deleted"]), f"{name} day {day}"
    assert any(expected[str(d)]["tables"]["web_sessions"]["hard_deleted"] for d in range(1, 8))
    returned = {
        k
        for d in range(1, 8)
        for k in expected[str(d)]["tables"]["web_sessions"]["inserted"]
        if k <= 150 + 50 * (d - 1)
    }
    assert returned, "a hard-deleted key comes back within days 1-7"
    assert expected["5"]["schema_changes"] == ["customers.loyalty_tier varchar(20) NULL"]


def test_fast_forward_equals_replaying_the_cdc_days(make_simulator: SimulatorFactory, tmp_path: Path) -> None:
    replayed = make_simulator(tmp_path / "replayed.duckdb", profile="cdc")
    replayed.load_baseline()
    for day in range(1, 7):
        replayed.apply_delta(day)
    jumped = make_simulator(tmp_path / "jumped.duckdb", profile="cdc")
    jumped.apply_delta(6, fast_forward=True)
    assert digests(jumped) == digests(replayed)
    columns = jumped.session.existing_columns("jaffle_shop", "customers")
    assert LOYALTY_TIER.name in columns


def test_reset_takes_the_schema_change_back(make_simulator: SimulatorFactory) -> None:
    simulator = make_simulator(profile="cdc")
    simulator.apply_delta(5, fast_forward=True)
    assert LOYALTY_TIER.name in simulator.session.existing_columns("jaffle_shop", "customers")
    simulator.reset()
    assert LOYALTY_TIER.name not in simulator.session.existing_columns("jaffle_shop", "customers")
    assert simulator.status(verify=True)["verified"]


def test_the_profile_is_kept_until_reset(make_simulator: SimulatorFactory) -> None:
    make_simulator().load_baseline()
    with pytest.raises(SimulatorError, match=r"holds the 'classic' profile .* reset with profile='cdc'"):
        make_simulator(profile="cdc").apply_delta(1)
    with pytest.raises(SimulatorError, match="profile='scd' is not a change profile: give one of classic, cdc"):
        ApplyDeltaOperator(task_id="t", day=1, profile="scd")


def test_a_cdc_day_reaches_a_logical_replication_subscriber_with_deletes_and_double_updates(
    pg_conn_id: str, postgres: PostgresServer, pg_database: str
) -> None:
    import psycopg

    simulator = Simulator(postgres_session(pg_conn_id), profile="cdc", enable_cdc=True)
    simulator.load_baseline()
    simulator.apply_delta(1)
    with psycopg.connect(postgres.uri(pg_database), autocommit=True) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot('cdc', 'pgoutput')")
        simulator.apply_delta(2)
        rows = conn.execute(
            "SELECT data FROM pg_logical_slot_get_binary_changes('cdc', NULL, NULL, "
            "'proto_version', '1', 'publication_names', %s)",
            [publication_name("jaffle_shop")],
        ).fetchall()
    changes = decode([r[0] for r in rows])
    expected = packaged.changes()["cdc"]["2"]["tables"]
    deleted = sorted(int(str(c.new["session_id"])) for c in changes if c.kind == "delete")
    assert deleted == expected["web_sessions"]["hard_deleted"] and deleted
    customer_updates = [
        int(str(c.new["customer_id"])) for c in changes if c.kind == "update" and c.table.endswith("customers")
    ]
    twice = expected["customers"]["updated_twice"]
    assert twice and all(customer_updates.count(k) == 2 for k in twice)
    assert Simulator(postgres_session(pg_conn_id), profile="cdc").status(verify=True)["verified"]


def test_the_cdc_profile_through_its_schema_change_on_postgres(pg_conn_id: str) -> None:
    simulator = Simulator(postgres_session(pg_conn_id), profile="cdc", scale=2)
    simulator.apply_delta(4, fast_forward=True)
    simulator.apply_delta(5)
    simulator.apply_delta(6)
    assert simulator.status(verify=True)["verified"]
    assert LOYALTY_TIER.name in simulator.session.existing_columns("jaffle_shop", "customers")
    simulator.reset()
    assert LOYALTY_TIER.name not in simulator.session.existing_columns("jaffle_shop", "customers")
