"""The example DAGs parse without import errors and run to success under dag.test()."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.support.dags import return_value, states

pytestmark = pytest.mark.slow


@pytest.fixture
def source_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "source.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_DUCKDB_DEFAULT", f'{{"conn_type": "duckdb", "host": "{path}"}}')
    return path


def test_every_example_dag_parses(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {
        "source_simulator_classic_days",
        "source_simulator_daily",
        "source_simulator_daily_partitions",
        "source_simulator_per_day",
        "source_simulator_on_demand",
        "source_simulator_ingestion",
        "source_simulator_postgres",
        "source_simulator_mssql",
        "source_simulator_databricks",
        "source_simulator_motherduck",
    }


def test_the_platform_dags_read_their_own_connections(dagbag: Any) -> None:
    for platform in ("postgres", "mssql", "databricks", "motherduck"):
        dag = dagbag.get_dag(f"source_simulator_{platform}")
        assert {task.conn_id for task in dag.tasks} == {f"{platform}_source"}
        assert [t.task_id for t in dag.topological_sort()] == [
            "reset",
            "apply_day_1",
            "apply_day_2",
            "apply_day_3",
            "status",
        ]


def test_the_postgres_dag_runs_with_change_capture(
    dagbag: Any, monkeypatch: pytest.MonkeyPatch, postgres: Any, pg_database: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_POSTGRES_SOURCE", postgres.airflow_connection(pg_database))
    run = dagbag.get_dag("source_simulator_postgres").test()
    assert run.state == "success", states(run)
    status = return_value(run, "status")
    assert status["day"] == 3 and status["verified"] is True


def test_classic_days_runs_to_a_verified_day_three(dagbag: Any, source_db: Path) -> None:
    run = dagbag.get_dag("source_simulator_classic_days").test()
    assert run.state == "success", states(run)
    status = return_value(run, "status")
    assert status["day"] == 3 and status["verified"] is True
    assert status["tables"]["jaffle_shop.customers"] == 175 and status["tables"]["jaffle_shop.payments"] == 374
    assert return_value(run, "apply_day_1")["tables"]["jaffle_shop.customers"] == 125
    # A second run resets and replays: the same end state.
    again = dagbag.get_dag("source_simulator_classic_days").test()
    assert again.state == "success" and return_value(again, "status") == status


def test_daily_runs_apply_their_day_and_reruns_are_no_ops(dagbag: Any, source_db: Path) -> None:
    dag = dagbag.get_dag("source_simulator_daily")
    customers = {}
    for day in (1, 2, 3):
        run = dag.test(logical_date=dt.datetime(2024, 4, day, tzinfo=dt.UTC))
        assert run.state == "success", states(run)
        customers[day] = return_value(run, "status")["tables"]["jaffle_shop.customers"]
    assert customers == {1: 125, 2: 147, 3: 175}
    rerun = dag.test(logical_date=dt.datetime(2024, 4, 2, tzinfo=dt.UTC))
    assert rerun.state == "success"
    assert return_value(rerun, "apply_day")["changed"] is False
    assert return_value(rerun, "status")["day"] == 3


def test_on_demand_runs_the_operation_chosen_in_the_form(dagbag: Any, source_db: Path) -> None:
    dag = dagbag.get_dag("source_simulator_on_demand")
    loaded = dag.test(run_conf={"operation": "load_baseline"})
    assert loaded.state == "success", states(loaded)
    assert states(loaded)["apply_delta"] == "skipped"
    applied = dag.test(run_conf={"operation": "apply_delta", "day": 1})
    assert applied.state == "success", states(applied)
    assert return_value(applied, "apply_delta")["day"] == 1
    refused = dag.test(run_conf={"operation": "apply_delta", "day": 3})
    assert refused.state == "failed"
    assert states(refused)["apply_delta"] == "failed"
    status = dag.test(run_conf={"operation": "status"})
    assert return_value(status, "status")["day"] == 1
    jumped = dag.test(run_conf={"operation": "apply_delta", "day": 12, "fast_forward": True})
    assert jumped.state == "success", states(jumped)
    assert return_value(jumped, "apply_delta")["day"] == 12


def test_daily_partitions_carry_the_simulated_date_and_queue_the_per_day_consumer(dagbag: Any, source_db: Path) -> None:
    from airflow.models.asset import AssetEvent, AssetModel, AssetPartitionDagRun
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:  # Airflow queues runs only for unpaused consumers
        session.query(DagModel).filter_by(dag_id="source_simulator_per_day").update({"is_paused": False})
    dag = dagbag.get_dag("source_simulator_daily_partitions")
    for day in (1, 2):
        run = dag.test(logical_date=dt.datetime(2024, 4, day, tzinfo=dt.UTC))
        assert run.state == "success", states(run)
    with create_session() as session:
        events = (
            session.query(AssetModel.uri, AssetEvent.partition_key, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_dag_id == dag.dag_id, AssetEvent.source_task_id == "apply_day")
            .all()
        )
        queued = {
            row.partition_key
            for row in session.query(AssetPartitionDagRun).filter_by(target_dag_id="source_simulator_per_day")
        }
    # Eight tables, two days: every event partitioned by its simulated date, which its extra repeats.
    assert sorted({(key, extra["day"], extra["date"]) for _, key, extra in events}) == [
        ("2024-04-01", 1, "2024-04-01"),
        ("2024-04-02", 2, "2024-04-02"),
    ]
    assert len(events) == 16 and all(uri.endswith("_daily/" + uri.rsplit("/", 1)[1]) for uri, _, _ in events)
    assert queued == {"2024-04-01", "2024-04-02"}  # the consumer waits for each date's eight partitions

    # The consumer knows its day from the partition key alone.
    consumer = dagbag.get_dag("source_simulator_per_day").get_task("process_day")
    result = consumer.python_callable(dag_run=type("Run", (), {"partition_key": "2024-04-02"})())
    assert result == {"day": 2, "date": "2024-04-02", "customers_changed": 27}
