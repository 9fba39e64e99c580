"""The pair of example DAGs under ``dag.test()``: the simulation's asset events schedule the ingestion DAG, whose
warehouse then equals the sources; days from the calendar, catch-up and runs without a logical date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_source_simulator.assets import source_assets
from airflow_source_simulator.data.calendar import DAY
from airflow_source_simulator.data.canonical import digest, format_fetched_rows
from airflow_source_simulator.data.generate import state
from airflow_source_simulator.schema import TABLES, Table
from tests.support.dags import return_value, states

UTC = dt.UTC


@pytest.fixture
def databases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    source, warehouse = tmp_path / "source.duckdb", tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_DUCKDB_DEFAULT", f'{{"conn_type": "duckdb", "host": "{source}"}}')
    monkeypatch.setenv("AIRFLOW_CONN_DUCKDB_WAREHOUSE", f'{{"conn_type": "duckdb", "host": "{warehouse}"}}')
    return source, warehouse


def table_digests(path: Path, prefix: str = "") -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as db:
        out = {}
        for table in TABLES:
            schema = {"shop": "jaffle_shop", "crm": "jaffle_crm"}[table.role]
            rows = db.execute(f"SELECT * FROM {prefix}{schema}.{table.name} ORDER BY {table.key}").fetchall()
            out[table.name] = digest(format_fetched_rows(table, rows))
        return out


def asset_events(dag_run: Any) -> dict[str, list[dict[str, Any]]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetModel.uri, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_dag_id == dag_run.dag_id, AssetEvent.source_run_id == dag_run.run_id)
            .all()
        )
    out: dict[str, list[dict[str, Any]]] = {}
    for uri, extra in rows:
        out.setdefault(uri, []).append(extra)
    return out


def test_a_run_without_a_logical_date_applies_the_next_day(dagbag: Any, databases: tuple[Path, Path]) -> None:
    dag = dagbag.get_dag("source_simulator_daily")
    first = dag.test(logical_date=dt.datetime(2024, 4, 1, tzinfo=UTC))
    assert return_value(first, "apply_day")["day"] == 1
    manual = dag.test(logical_date=None)
    assert manual.state == "success", states(manual)
    assert return_value(manual, "apply_day")["day"] == 2


def test_catch_up_out_of_order_is_refused_clearly_and_changes_nothing(
    dagbag: Any, databases: tuple[Path, Path], make_simulator: Any, tmp_path: Path
) -> None:
    dag = dagbag.get_dag("source_simulator_daily")
    skipped = dag.test(logical_date=dt.datetime(2024, 4, 3, tzinfo=UTC))
    assert skipped.state == "failed" and states(skipped)["apply_day"] == "failed"
    baseline = tmp_path / "baseline.duckdb"
    make_simulator(baseline).load_baseline()
    assert table_digests(databases[0]) == table_digests(baseline)


def test_the_ingestion_dag_is_scheduled_on_the_simulation_s_assets(dagbag: Any) -> None:
    simulation = dagbag.get_dag("source_simulator_daily").get_task("apply_day")
    ingestion = dagbag.get_dag("source_simulator_ingestion")
    assert {a.uri for a in simulation.outlets} == {a.uri for a in source_assets()}
    condition = ingestion.timetable.asset_condition
    assert type(condition).__name__ == "AssetAll"  # a run once every table has changed
    assert [a.uri for a in condition.objects] == [a.uri for a in source_assets()]


def rows_past_look_back(day: int, table: Table, profile: str = "classic") -> int:
    """Rows of ``table`` at ``day`` whose updated_at is past the day before's high-water mark less one day: what
    the ingestion reads, with its one-day look-back."""
    mark = state(day - 1, 1, profile).table(table.name)["updated_at"].max() - DAY
    return int((state(day, 1, profile).table(table.name)["updated_at"] > mark).sum())


def test_after_every_day_the_warehouse_equals_the_sources(dagbag: Any, databases: tuple[Path, Path]) -> None:
    _, warehouse = databases
    simulation, ingestion = dagbag.get_dag("source_simulator_daily"), dagbag.get_dag("source_simulator_ingestion")
    for day in (1, 2, 3):
        run = simulation.test(logical_date=dt.datetime(2024, 4, day, tzinfo=UTC))
        assert run.state == "success", states(run)
        events = asset_events(run)
        assert set(events) == {a.uri for a in source_assets()}
        customers = events["source-simulator://duckdb_default/jaffle_shop/customers"]
        assert {e["operation"]: (e["day"], e["platform"]) for e in customers}["apply_delta"] == (day, "duckdb")

        copied = ingestion.test()
        assert copied.state == "success", states(copied)
        rows = return_value(copied, "ingest")
        if day > 1:  # the first run copies everything; later ones what is past the look-back
            for table in TABLES:
                name = f"{'jaffle_shop' if table.role == 'shop' else 'jaffle_crm'}.{table.name}"
                assert rows[name] == rows_past_look_back(day, table), (day, name)
        report = return_value(copied, "check")
        assert report["ok"] and report["day"] == day, report
    with duckdb.connect(str(warehouse), read_only=True) as db:
        deleted = db.execute("SELECT count(*) FROM raw_jaffle_shop.orders WHERE deleted_at IS NOT NULL").fetchone()
    assert deleted is not None and deleted[0] > 0  # soft deletes arrived


def test_the_ingestion_keeps_a_cdc_source_exactly_and_its_check_says_so(
    dagbag: Any, databases: tuple[Path, Path], make_simulator: Any
) -> None:
    """Late rows, hard deletes, restored keys, double saves and the day-5 column: the check passes every day."""
    source, _ = databases
    simulator = make_simulator(source, profile="cdc")
    ingestion = dagbag.get_dag("source_simulator_ingestion")
    simulator.load_baseline()
    for day in range(8):
        if day:
            simulator.apply_delta(day)
        copied = ingestion.test()
        assert copied.state == "success", states(copied)
        report = return_value(copied, "check")
        assert report["ok"] and (report["day"], report["profile"]) == (day, "cdc"), report
