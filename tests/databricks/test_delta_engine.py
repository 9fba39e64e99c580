"""Every operation on a Delta Lake engine through the official hook, in two scenarios (each operation costs
seconds of Spark statements, so every state one scenario reaches is checked rather than rebuilt by another test):
the classic days with a killed task retried, the oracle checking a Delta target and fast-forward keeping rows of
your own; the cdc profile through day 7 with the change data feed replayed to each day's manifest, and a reset
seen by a feed reader. ``make databricks`` runs the two side by side on one server."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from airflow_source_simulator import packaged
from airflow_source_simulator.core.states import expected_tables
from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR
from airflow_source_simulator.errors import SimulatorError, StoppedError
from airflow_source_simulator.operators import ApplyDeltaOperator, VerifyTargetOperator
from airflow_source_simulator.schema import LOYALTY_TIER, TABLES, TABLES_BY_NAME, tables_at
from airflow_source_simulator.simulator import Simulator
from tests.databricks.conftest import SimulatorFactory
from tests.support.delta import Replay, changes, feed, figures, in_order, latest_version, rows


def test_the_classic_days_a_killed_day_retried_the_oracle_on_a_delta_target_and_fast_forward(
    make_simulator: SimulatorFactory, dbx_conn_id: str, prefix: str
) -> None:
    # Tables are created with the change data feed on; enable_cdc is exercised by the cdc scenario (on Delta it
    # sets the property once more on every table).
    simulator = make_simulator()
    assert simulator.load_baseline()["tables"][f"{prefix}_shop.customers"] == 100
    assert simulator.status(verify=True)["verified"]
    kill_day_1_while_a_statement_runs(dbx_conn_id, prefix)
    # Databricks has no transactions: a stopped day may be half applied, and the retry completes it exactly.
    assert make_simulator().apply_delta(1)["day"] == 1
    assert simulator.status(verify=True)["verified"], "day 1"
    for day in (2, 3):
        assert simulator.apply_delta(day)["day"] == day
        assert simulator.status(verify=True)["verified"], f"day {day}"
    assert simulator.apply_delta(3)["changed"] is False  # a retried task changes nothing
    check_a_delta_target(simulator, dbx_conn_id, prefix)
    fast_forward_keeps_rows_of_your_own(make_simulator)


def kill_day_1_while_a_statement_runs(dbx_conn_id: str, prefix: str) -> None:
    """Run day 1 as a DAG's task would, call ``on_kill`` while one of its statements runs on the server, and
    check that the task stops at once, failing."""
    task = ApplyDeltaOperator(
        task_id="day_1", conn_id=dbx_conn_id, day=1, shop_schema=f"{prefix}_shop", crm_schema=f"{prefix}_crm"
    )
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = task.execute({})
        except BaseException as error:  # the task's failure, as Airflow would see it
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    running: Simulator | None = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and thread.is_alive():
        running = getattr(task, "_running", None)
        conn = running.session._held if running is not None else None
        if conn is not None and any(c.active_command_id is not None for c in list(conn._cursors)):
            break  # a statement of the day is running on the server
        time.sleep(0.05)
    started = time.monotonic()
    task.on_kill()
    thread.join(120)
    assert not thread.is_alive()
    assert time.monotonic() - started < 30, "the operation went on after on_kill"
    assert isinstance(outcome.get("error"), StoppedError | SimulatorError), outcome


def check_a_delta_target(simulator: Simulator, dbx_conn_id: str, prefix: str) -> None:
    """A pipeline's copy of the source on Delta passes ``VerifyTargetOperator``; rows it lost are named."""
    target = f"{prefix}_raw"
    statements = [f"CREATE SCHEMA `{target}`"]
    for t in TABLES:
        statements.append(f"CREATE TABLE `{target}`.{t.name} USING DELTA AS SELECT * FROM {simulator.ref(t)}")
    simulator.session.hook.run(statements)
    check = VerifyTargetOperator(
        task_id="verify",
        conn_id=dbx_conn_id,
        target_conn_id=dbx_conn_id,
        target_schema=target,
        shop_schema=f"{prefix}_shop",
        crm_schema=f"{prefix}_crm",
    )
    assert check.execute({})["ok"] is True
    simulator.session.hook.run(f"DELETE FROM `{target}`.orders WHERE order_id IN (1, 2, 3)")
    with pytest.raises(Exception, match="orders") as failed:
        check.execute({})
    assert "3 rows" in str(failed.value) and "missing" in str(failed.value)


def test_the_cdc_profile_through_day_7_its_change_feed_and_a_reset(make_simulator: SimulatorFactory) -> None:
    simulator = make_simulator(profile="cdc", enable_cdc=True)
    simulator.load_baseline()
    assert simulator.status(verify=True)["verified"]
    session = simulator.session
    expected = packaged.changes()["cdc"]
    held = {t.name: rows(session, simulator.ref(t), t.key) for t in TABLES}
    version = {t.name: latest_version(session, simulator.ref(t)) for t in TABLES}
    for day in range(1, 8):
        simulator.apply_delta(day)
        assert simulator.status(verify=True)["verified"], f"day {day}"
        shapes, manifest = {t.name: t for t in tables_at("cdc", day)}, expected_tables(day, 1, "cdc")
        for t in TABLES:
            read = feed(session, simulator.ref(t), version[t.name] + 1)
            replay = Replay(dict(held[t.name]), t.key).apply(in_order(read))
            # A reader that applies the day's feed to the rows it had holds exactly the day's state.
            assert replay.problems == [], f"{t.name} day {day}"
            assert figures(replay.state, shapes[t.name], read.schema) == manifest[t.name], f"{t.name} day {day}"
            change = expected[str(day)]["tables"][t.name]
            # One MERGE per table and day (inserts, updates and hard deletes together), the first of two saves a
            # commit before it: each statement one commit of the feed.
            changed = any(change[kind] for kind in ("inserted", "updated", "hard_deleted"))
            assert len(replay.versions) == changed + bool(change["updated_twice"]), f"{t.name} day {day}"
            now = replay.state
            assert now.keys() - held[t.name].keys() == set(change["inserted"]) - held[t.name].keys(), t.name
            assert held[t.name].keys() - now.keys() == set(change["hard_deleted"]), f"{t.name} day {day}"
            held[t.name], version[t.name] = now, replay.last_version or version[t.name]
        if day == 5:
            assert LOYALTY_TIER.name in session.existing_columns(simulator.schemas["shop"], "customers")
    assert any(expected[str(d)]["tables"]["web_sessions"]["hard_deleted"] for d in range(1, 8))
    a_feed_reader_across_a_reset(simulator, held["customers"])
    assert simulator.status(verify=True)["verified"], "after the reset"


def a_feed_reader_across_a_reset(simulator: Simulator, before: dict[int, dict[str, Any]]) -> None:
    """A reset takes the day-5 column back (DROP COLUMN). Delta refuses a feed range that spans a dropped
    column: a reader that reads across the reset fails, naming the schema change, and never reads wrong rows;
    one that reads up to the drop and on from it sees every row deleted and the baseline inserted."""
    session = simulator.session
    customers = TABLES_BY_NAME["customers"]
    ref = simulator.ref(customers)
    version = latest_version(session, ref)
    simulator.reset()
    # Delta names it DELTA_CHANGE_DATA_FEED_INCOMPATIBLE_DATA_SCHEMA (rows written with the column, read with the
    # end version's schema) or ..._INCOMPATIBLE_SCHEMA_CHANGE (the range's start is the drop), by where it starts.
    with pytest.raises(Exception, match=r"DELTA_CHANGE_DATA_FEED_INCOMPATIBLE_(DATA_SCHEMA|SCHEMA_CHANGE)"):
        changes(session, ref, version + 1)
    history = session.query(f"DESCRIBE HISTORY {ref}")
    (drop,) = [int(h[0]) for h in history if int(h[0]) > version and "DROP COLUMNS" in str(h[4]).upper()]
    replay = Replay(dict(before), customers.key).apply(changes(session, ref, version + 1, drop - 1))
    replay.apply(changes(session, ref, drop + 1))
    baseline = rows(session, ref, customers.key)
    assert replay.differences(baseline) == []
    assert replay.counts["delete"] == len(before) and replay.counts["insert"] == len(baseline) == 100


def fast_forward_keeps_rows_of_your_own(make_simulator: SimulatorFactory) -> None:
    """A row of the user's own, added at day 3, is kept by a fast-forward to day 5 (a rebuild)."""
    simulator = make_simulator()
    shop, customers = simulator.schemas["shop"], simulator.ref(TABLES_BY_NAME["customers"])
    simulator.session.hook.run(
        f"INSERT INTO {customers} VALUES ({CUSTOM_ID_FLOOR}, 'Own', 'Row', 'own@example.com', "
        "TIMESTAMP '2024-05-01 00:00:00', TIMESTAMP '2024-05-01 00:00:00', NULL)"
    )
    result = make_simulator().apply_delta(5, fast_forward=True)
    manifest = expected_tables(5, 1)
    assert result["tables"][f"{shop}.customers"] == manifest["customers"]["rows"] + 1  # the counts include yours
    status = make_simulator().status(verify=True)
    assert status["verified"] and status["custom_rows"] == {f"{shop}.customers": 1}
    own = simulator.session.query(f"SELECT email FROM {customers} WHERE customer_id >= {CUSTOM_ID_FLOOR}")
    assert own == [("own@example.com",)]
