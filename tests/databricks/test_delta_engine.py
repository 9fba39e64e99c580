"""Every operation on a Delta Lake engine through the official hook: both profiles verified against the manifest
at every state, the change data feed equal to each day's state diff, reset, fast-forward, rows of your own,
on_kill, and the oracle checking a Delta target."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from airflow_source_simulator import packaged
from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR, max_id
from airflow_source_simulator.errors import SimulatorError, StoppedError
from airflow_source_simulator.operators import ApplyDeltaOperator, VerifyTargetOperator
from airflow_source_simulator.schema import LOYALTY_TIER, TABLES, TABLES_BY_NAME
from airflow_source_simulator.simulator import Simulator
from tests.databricks.conftest import SimulatorFactory
from tests.support.delta import Replay, changes, latest_version, rows


def test_the_classic_days_verify_at_every_state_and_reset(make_simulator: SimulatorFactory, prefix: str) -> None:
    # Tables are created with the change data feed on; enable_cdc is exercised by the cdc profile's test (on
    # Delta it sets the property once more on every table, a commit each).
    simulator = make_simulator()
    assert simulator.load_baseline()["tables"][f"{prefix}_shop.customers"] == 100
    assert simulator.status(verify=True)["verified"]
    for day in (1, 2, 3):
        assert simulator.apply_delta(day)["day"] == day
        assert simulator.status(verify=True)["verified"], f"day {day}"
    assert simulator.apply_delta(3)["changed"] is False  # a retried task changes nothing
    assert simulator.reset()["day"] == 0
    assert simulator.status(verify=True)["verified"]


def test_the_cdc_profile_through_day_7_and_its_change_feed_equal_each_days_state_diff(
    make_simulator: SimulatorFactory,
) -> None:
    simulator = make_simulator(profile="cdc", enable_cdc=True)
    simulator.load_baseline()
    session = simulator.session
    expected = packaged.changes()["cdc"]
    held = {t.name: rows(session, simulator.ref(t), t.key) for t in TABLES}
    version = {t.name: latest_version(session, simulator.ref(t)) for t in TABLES}
    for day in range(1, 8):
        simulator.apply_delta(day)
        assert simulator.status(verify=True)["verified"], f"day {day}"
        for t in TABLES:
            ref = simulator.ref(t)
            now = rows(session, ref, t.key)
            replay = Replay(dict(held[t.name]), t.key).apply(changes(session, ref, version[t.name] + 1))
            assert replay.differences(now) == [], f"{t.name} day {day}"
            change = expected[str(day)]["tables"][t.name]
            # One MERGE per table and day (inserts, updates and hard deletes together), the first of two saves a
            # commit before it: each statement one commit of the feed.
            changed = any(change[kind] for kind in ("inserted", "updated", "hard_deleted"))
            assert len(replay.versions) == changed + bool(change["updated_twice"]), f"{t.name} day {day}"
            assert now.keys() - held[t.name].keys() == set(change["inserted"]) - held[t.name].keys(), t.name
            assert held[t.name].keys() - now.keys() == set(change["hard_deleted"]), f"{t.name} day {day}"
            held[t.name], version[t.name] = now, replay.last_version or version[t.name]
        if day == 5:
            assert LOYALTY_TIER.name in session.existing_columns(simulator.schemas["shop"], "customers")
    assert any(expected[str(d)]["tables"]["web_sessions"]["hard_deleted"] for d in range(1, 8))


def test_a_feed_reader_across_a_reset_of_a_cdc_source_is_stopped_loudly_and_reads_on_around_the_drop(
    make_simulator: SimulatorFactory,
) -> None:
    """A reset takes the day-5 column back (DROP COLUMN). Delta refuses a feed range that spans a dropped
    column: a reader that reads across the reset fails, naming the schema change, and never reads wrong rows;
    one that reads up to the drop and on from it sees every row deleted and the baseline inserted."""
    simulator = make_simulator(profile="cdc", enable_cdc=True)
    simulator.apply_delta(5, fast_forward=True)
    session = simulator.session
    customers = TABLES_BY_NAME["customers"]
    ref = simulator.ref(customers)
    before, version = rows(session, ref, customers.key), latest_version(session, ref)
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


def test_fast_forward_keeps_rows_of_your_own(make_simulator: SimulatorFactory) -> None:
    simulator = make_simulator()
    simulator.load_baseline()
    shop, customers = simulator.schemas["shop"], simulator.ref(TABLES_BY_NAME["customers"])
    simulator.session.hook.run(
        f"INSERT INTO {customers} VALUES ({CUSTOM_ID_FLOOR}, 'Own', 'Row', 'own@example.com', "
        "TIMESTAMP '2024-05-01 00:00:00', TIMESTAMP '2024-05-01 00:00:00', NULL)"
    )
    result = make_simulator().apply_delta(3, fast_forward=True)
    assert result["tables"][f"{shop}.customers"] == max_id("customers", 3, 1) + 1  # the counts include yours
    status = make_simulator().status(verify=True)
    assert status["verified"] and status["custom_rows"] == {f"{shop}.customers": 1}
    own = simulator.session.query(f"SELECT email FROM {customers} WHERE customer_id >= {CUSTOM_ID_FLOOR}")
    assert own == [("own@example.com",)]


def test_on_kill_cancels_the_running_statement_and_a_retry_completes_the_day(
    make_simulator: SimulatorFactory, dbx_conn_id: str, prefix: str
) -> None:
    make_simulator().load_baseline()
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
    # Databricks has no transactions: a stopped day is half applied, and the retry completes it exactly.
    assert make_simulator().apply_delta(1)["day"] == 1
    assert make_simulator().status(verify=True)["verified"]


def test_the_oracle_checks_a_delta_target_and_names_what_a_pipeline_lost(
    make_simulator: SimulatorFactory, dbx_conn_id: str, prefix: str
) -> None:
    simulator = make_simulator()
    simulator.apply_delta(2, fast_forward=True)
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
