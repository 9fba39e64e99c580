"""verify_target's arguments, on DuckDB files: a source in schemas of the user's choosing is read from them, a
check against day= uses the scale given, the check logs to the module's logger unless given one, and each
missing or conflicting argument is refused with a message naming it and saying what to give instead."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_source_simulator import verify_target
from airflow_source_simulator.errors import ArgumentError, SimulatorError
from airflow_source_simulator.schema import TABLES
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


def damaged_copy(source: Path, tmp_path: Path, *statements: str) -> Path:
    """A copy of the source's file as a target, with the pipeline's damage run on it."""
    path = tmp_path / "target.duckdb"
    shutil.copy(source, path)
    with duckdb.connect(str(path)) as db:
        for statement in statements:
            db.execute(statement)
    return path


@pytest.mark.parametrize("sample_size", [-1, "3", True, 2.5, None])
def test_a_sample_size_not_a_whole_number_of_0_or_more_is_refused_naming_it(source: Path, sample_size: Any) -> None:
    with pytest.raises(ArgumentError) as refused:
        verify_target(day=0, target_session=session(source), target_schema=MINE, sample_size=sample_size, log=QUIET)
    assert str(refused.value) == (f"sample_size={sample_size!r} is not valid: give a whole number of keys, 0 or more.")


def test_a_sample_size_of_0_counts_the_differences_without_example_keys(source: Path, tmp_path: Path) -> None:
    target = damaged_copy(source, tmp_path, "DELETE FROM my_shop.customers WHERE customer_id <= 3")
    report = verify_target(day=0, target_session=session(target), target_schema=MINE, sample_size=0, log=QUIET)
    missing = report.to_dict()["tables"]["jaffle_shop.customers"]["rows_missing"]
    assert (missing["count"], missing["sample"]) == (3, [])
    assert [t.table for t in report.tables if not t.ok] == ["jaffle_shop.customers"]


def test_the_report_names_the_mode_it_checked(source: Path, tmp_path: Path) -> None:
    replica = verify_target(day=0, target_session=session(source), target_schema=MINE, log=QUIET)
    assert (replica.mode, replica.to_dict()["mode"]) == ("replica", "replica")
    assert replica.summary().startswith("✓ The replica target at day 0 (classic, scale 1) matches the simulated source")
    snapshot = damaged_copy(
        source,
        tmp_path,
        "CREATE SCHEMA snap",
        *(
            f"CREATE TABLE snap.{t.name} AS SELECT *, updated_at AS dbt_valid_from, "
            f"CAST(NULL AS TIMESTAMP) AS dbt_valid_to FROM {OWN[f'{t.role}_schema']}.{t.name}"
            for t in TABLES
        ),
    )
    scd2 = verify_target(day=0, target_session=session(snapshot), target_schema="snap", mode="scd2", log=QUIET)
    assert scd2.ok, scd2.lines()
    assert (scd2.mode, scd2.to_dict()["mode"]) == ("scd2", "scd2")
    assert scd2.summary().startswith("✓ The scd2 target at day 0 (classic, scale 1) matches the simulated source")


def test_the_callers_log_names_each_table_checked_and_where_then_the_summary_and_each_difference_indented(
    source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = damaged_copy(
        source, tmp_path, "DELETE FROM my_shop.customers WHERE customer_id <= 3", "DROP TABLE my_crm.campaigns"
    )
    caller = logging.getLogger("tests.oracle.arguments.caller")
    with caplog.at_level(logging.INFO, logger=caller.name):
        report = verify_target(day=0, target_session=session(target), target_schema=MINE, log=caller)
    logged = [r.getMessage() for r in caplog.records if r.name == caller.name]
    # Every table in the source's order but campaigns, which the target lacks: the truth's schema, then the target's.
    checked = [(f"jaffle_{t.role}", MINE[f"jaffle_{t.role}"], t.name) for t in TABLES if t.name != "campaigns"]
    summary = (
        "✗ The replica target at day 0 (classic, scale 1) differs from the simulated source in 2 of 8 tables: "
        "jaffle_shop.customers, jaffle_crm.campaigns"
    )
    assert report.summary() == summary
    differences = report.lines()
    assert len(differences) == 2 and differences[1] == (
        "jaffle_crm.campaigns: the target has no table my_crm.campaigns (5 rows expected)"
    )
    assert logged == [
        *(f"Checking {schema}.{table} against {target_schema}.{table}" for schema, target_schema, table in checked),
        summary,
        *(f"  {difference}" for difference in differences),
    ]
