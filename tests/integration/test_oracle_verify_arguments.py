"""verify_target's arguments, on DuckDB files: a source in schemas of the user's choosing is read from them, a
check against day= uses the scale given, the check logs to the module's logger unless given one, and each
missing or conflicting argument is refused with a message naming it and saying what to give instead."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from airflow_source_simulator import verify_target
from airflow_source_simulator.errors import ArgumentError, SimulatorError
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator

QUIET = logging.getLogger("tests.oracle.arguments")
OWN: dict[str, Any] = {"shop_schema": "my_shop", "crm_schema": "my_crm"}  # outside the default jaffle_* schemas
MINE = {"jaffle_shop": "my_shop", "jaffle_crm": "my_crm"}  # the default source's tables in a target's my_* schemas
SAME = {"my_shop": "my_shop", "my_crm": "my_crm"}  # the my_* source's tables in the same schemas of a target


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The classic baseline loaded in my_shop / my_crm; a perfect replica of itself as a target."""
    path = tmp_path_factory.mktemp("arguments") / "source.duckdb"
    Simulator(DuckDBSession.for_database(str(path)), log=QUIET, **OWN).load_baseline()
    return path


def session(path: Path) -> DuckDBSession:
    return DuckDBSession.for_database(str(path))


def test_a_source_in_schemas_of_the_users_choosing_is_read_from_them(source: Path) -> None:
    report = verify_target(
        source_session=session(source),
        target_session=session(source),
        target_schema=SAME,
        log=QUIET,
        **OWN,
    )
    assert report.ok, report.lines()
    assert (report.day, report.scale, report.profile) == (0, 1, "classic")
    assert [t.table for t in report.tables][:1] == ["my_shop.customers"]
    assert report.tables[-1].table == "my_crm.web_sessions" and report.tables[-1].expected_rows > 0


def test_a_check_against_a_day_uses_the_scale_given(tmp_path: Path) -> None:
    target = tmp_path / "scale2.duckdb"
    Simulator(session(target), scale=2, log=QUIET).load_baseline()
    schemas = {"jaffle_shop": "jaffle_shop", "jaffle_crm": "jaffle_crm"}
    report = verify_target(day=0, scale=2, target_session=session(target), target_schema=schemas, log=QUIET)
    assert report.ok, report.lines()
    assert report.scale == 2
    at_scale_1 = verify_target(day=0, target_session=session(target), target_schema=schemas, log=QUIET)
    assert at_scale_1.scale == 1 and not at_scale_1.ok  # the scale given is the one used, 1 by default


def test_without_a_logger_the_check_logs_to_the_modules_own(source: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="airflow_source_simulator.oracle.verify"):
        report = verify_target(day=0, target_session=session(source), target_schema=MINE)
    assert report.ok, report.lines()
    logged = [r.getMessage() for r in caplog.records if r.name == "airflow_source_simulator.oracle.verify"]
    assert report.summary() in logged


@pytest.mark.parametrize("parameter", ["shop_schema", "crm_schema"])
def test_a_bad_schema_name_is_refused_naming_its_argument(source: Path, parameter: str) -> None:
    bad: dict[str, Any] = {parameter: "1st"}
    with pytest.raises(ArgumentError) as refused:
        verify_target(day=0, target_session=session(source), target_schema=MINE, log=QUIET, **bad)
    assert str(refused.value).startswith(f"{parameter}='1st' is not a plain identifier: use 1-63 ASCII letters")


def test_a_source_and_a_day_are_refused_together(source: Path) -> None:
    with pytest.raises(ArgumentError) as refused:
        verify_target(source_session=session(source), day=0, target_session=session(source), target_schema=MINE)
    assert str(refused.value) == (
        "give either the source (conn_id), whose ledger says the day, scale and profile, or day= (with scale= and "
        "profile=) to check without the source; not both."
    )


def test_a_scale_without_a_day_is_refused_as_the_ledger_gives_it(source: Path) -> None:
    with pytest.raises(ArgumentError) as refused:
        verify_target(source_session=session(source), scale=2, target_session=session(source), target_schema=MINE)
    assert str(refused.value) == (
        "scale=2 and profile=None describe the state to check with day=; without day= the source's ledger gives them."
    )


def test_no_source_and_no_day_is_refused_saying_what_to_give(source: Path) -> None:
    with pytest.raises(ArgumentError) as refused:
        verify_target(target_session=session(source), target_schema=MINE)
    assert str(refused.value) == "give the source (conn_id) or the state to check against (day=, scale=, profile=)."


def test_no_target_is_refused_saying_what_to_give() -> None:
    with pytest.raises(ArgumentError) as refused:
        verify_target(day=0, target_schema=MINE)
    assert str(refused.value) == "give target_conn_id: the Airflow connection of the database the pipeline wrote."


def test_a_source_never_loaded_is_refused_naming_its_schemas(source: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    session(empty).query("SELECT 1")  # a database, but no simulated source in it
    with pytest.raises(SimulatorError) as refused:
        verify_target(source_session=session(empty), target_session=session(source), target_schema=SAME, **OWN)
    assert str(refused.value) == (
        "the source in my_shop / my_crm has not been loaded by the simulator: nothing to check a target against. "
        "Load it, or give day= (with scale= and profile=)."
    )
