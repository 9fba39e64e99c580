"""Days past the classic three, scale factors, fast-forward, bulk loading and its progress lines."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR, cohort_volumes, max_id
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.sources import SimulatorFactory, digests, postgres_session

CLASSIC_CUSTOMERS = {0: 100, 1: 125, 2: 147, 3: 175}


def test_days_past_three_follow_the_daily_volumes_and_verify(simulator: Simulator) -> None:
    simulator.load_baseline()
    customers = 100
    for day in range(1, 8):
        result = simulator.apply_delta(day)
        customers += cohort_volumes(day).customers
        assert result["tables"]["jaffle_shop.customers"] == customers
        assert result["tables"]["jaffle_shop.customers"] == max_id("customers", day, 1)
    assert 20 <= cohort_volumes(7).customers <= 30 and 50 <= cohort_volumes(7).orders <= 70
    assert simulator.status(verify=True)["verified"] is True


def test_fast_forward_builds_the_same_rows_as_replaying(make_simulator: SimulatorFactory, tmp_path: Path) -> None:
    replayed = make_simulator(tmp_path / "replayed.duckdb")
    replayed.load_baseline()
    for day in range(1, 7):
        replayed.apply_delta(day)
    jumped = make_simulator(tmp_path / "jumped.duckdb")
    result = jumped.apply_delta(6, fast_forward=True)
    assert result["day"] == 6 and result["changed"] is True
    assert digests(jumped) == digests(replayed)
    jumped.apply_delta(7)
    replayed.apply_delta(7)
    assert digests(jumped) == digests(replayed)


def test_fast_forward_is_needed_to_skip_days(simulator: Simulator) -> None:
    simulator.load_baseline()
    with pytest.raises(SimulatorError, match=r"Apply day 1 first .* or pass fast_forward=True"):
        simulator.apply_delta(5)
    assert simulator.apply_delta(5, fast_forward=True)["day"] == 5


@pytest.mark.parametrize("scale", [2, 5])
def test_a_scale_multiplies_every_volume(make_simulator: SimulatorFactory, scale: int) -> None:
    simulator = make_simulator(scale=scale)
    assert simulator.load_baseline()["tables"]["jaffle_shop.order_items"] == 1200 * scale
    for day in (1, 2, 3):
        result = simulator.apply_delta(day)
        assert result["scale"] == scale
        assert result["tables"]["jaffle_shop.customers"] == CLASSIC_CUSTOMERS[day] * scale
    assert result["tables"]["jaffle_shop.payments"] == 374 * scale
    assert simulator.status(verify=True)["verified"] is True


def test_another_scale_is_refused_until_reset(make_simulator: SimulatorFactory) -> None:
    make_simulator().load_baseline()
    with pytest.raises(SimulatorError, match=r"holds scale 1 .* Give scale=1, or reset with scale=3"):
        make_simulator(scale=3).apply_delta(1)
    assert make_simulator(scale=3).reset()["tables"]["jaffle_shop.customers"] == 300


@pytest.mark.parametrize("bad", [0, -1, "x", 2.0, 100_001, True])
def test_bad_scales_are_refused(make_simulator: SimulatorFactory, bad: object) -> None:
    with pytest.raises(SimulatorError, match=f"scale={bad!r} is not valid"):
        make_simulator(scale=bad)


def test_generated_ids_stay_below_the_custom_range_and_a_state_too_large_is_refused(simulator: Simulator) -> None:
    assert max(max_id(t.name, 3650, 100) for t in TABLES) < CUSTOM_ID_FLOOR
    with pytest.raises(SimulatorError, match=r"day 3650 at scale 3000 would number order_items up to 1,145,670,000"):
        Simulator(simulator.session, scale=3000).apply_delta(3650, fast_forward=True)
    assert simulator.status()["day"] is None


def test_long_loads_report_progress_and_rate(simulator: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    simulator.session.bulk_chunk_rows = 500  # type: ignore[misc]
    with caplog.at_level(logging.INFO):
        Simulator(simulator.session, scale=2).apply_delta(4, fast_forward=True)
    lines = [
        r.getMessage()
        for r in caplog.records
        if "ing jaffle_shop.order_items" in r.getMessage() or "Loaded jaffle_shop.order_items" in r.getMessage()
    ]
    assert lines[0].startswith("  … Loading jaffle_shop.order_items: 500 of ") and "rows/s)" in lines[0]
    assert lines[-1].startswith("  ✓ Loaded jaffle_shop.order_items (")


def test_the_statement_path_for_generated_rows_matches_the_bulk_path(
    make_simulator: SimulatorFactory, tmp_path: Path
) -> None:
    """What SQL Server and Databricks do with generated rows (batched statements), run on DuckDB."""
    bulk = make_simulator(tmp_path / "bulk.duckdb", scale=2)
    statements_platform = DuckDBSession.for_database(str(tmp_path / "statements.duckdb"))
    statements_platform.bulk = False  # type: ignore[misc]
    statements = Simulator(statements_platform, scale=2)
    for simulator in (bulk, statements):
        simulator.load_baseline()
        simulator.apply_delta(1)
    assert digests(statements) == digests(bulk)


def test_postgres_loads_generated_days_with_copy_and_matches_duckdb(pg_conn_id: str, tmp_path: Path) -> None:
    on_postgres = Simulator(postgres_session(pg_conn_id), scale=3)
    on_duckdb = Simulator(DuckDBSession.for_database(str(tmp_path / "s.duckdb")), scale=3)
    for simulator in (on_postgres, on_duckdb):
        simulator.load_baseline()
        for day in (1, 2, 3, 4):
            simulator.apply_delta(day)
    assert digests(on_postgres) == digests(on_duckdb)
    assert on_postgres.status(verify=True)["verified"] is True
