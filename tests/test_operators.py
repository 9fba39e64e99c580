"""The operators: arguments, connection resolution and return values, run against real DuckDB files."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

import pytest

import airflow_source_simulator
from airflow_source_simulator import operators
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.operators import (
    ApplyDeltaOperator,
    LoadBaselineOperator,
    ResetOperator,
    StatusOperator,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

NO_CONTEXT = cast("Context", {})


def test_operators_import_from_the_package_and_the_operators_module() -> None:
    for name in ("LoadBaselineOperator", "ApplyDeltaOperator", "ResetOperator", "StatusOperator"):
        assert getattr(airflow_source_simulator, name) is getattr(operators, name)


def test_the_four_operators_run_and_return_the_status(duckdb_connection: str) -> None:
    loaded = LoadBaselineOperator(task_id="load", conn_id=duckdb_connection).execute(NO_CONTEXT)
    assert loaded["day"] == 0
    applied = ApplyDeltaOperator(task_id="d1", conn_id=duckdb_connection, day="1").execute(NO_CONTEXT)
    assert applied["tables"]["jaffle_shop.customers"] == 125
    status = StatusOperator(task_id="s", conn_id=duckdb_connection, verify=True).execute(NO_CONTEXT)
    assert status["day"] == 1 and status["verified"] is True
    reset = ResetOperator(task_id="r", conn_id=duckdb_connection).execute(NO_CONTEXT)
    assert reset["day"] == 0
    json.dumps([loaded, applied, status, reset])


def test_day_and_names_are_templated() -> None:
    op = ApplyDeltaOperator(task_id="t", day="{{ params.day }}", shop_schema="{{ params.shop }}")
    assert {"day", "conn_id", "shop_schema", "crm_schema"} <= set(op.template_fields)


@pytest.mark.parametrize("day", [0, -4, "x", 1.5])
def test_a_bad_literal_day_fails_when_the_dag_is_parsed(day: object) -> None:
    with pytest.raises(SimulatorError, match="day="):
        ApplyDeltaOperator(task_id="t", day=day)  # type: ignore[arg-type]


def test_a_bad_schema_name_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="crm_schema='crm; drop' is not a plain identifier"):
        StatusOperator(task_id="t", crm_schema="crm; drop")


def test_a_missing_connection_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    with pytest.raises(SimulatorError, match="Airflow connection 'nowhere' does not exist"):
        StatusOperator(task_id="t", conn_id="nowhere").execute(NO_CONTEXT)


def test_an_unsupported_connection_type_lists_the_supported_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WEB", '{"conn_type": "http", "host": "example.com"}')
    with pytest.raises(
        SimulatorError,
        match=r"connection type 'http' is not supported .* supported: databricks, duckdb, mssql, postgres\.",
    ):
        StatusOperator(task_id="t", conn_id="web").execute(NO_CONTEXT)


def test_a_duckdb_connection_without_a_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MEMORY", '{"conn_type": "duckdb"}')
    with pytest.raises(SimulatorError, match="in-memory database that vanishes"):
        LoadBaselineOperator(task_id="t", conn_id="memory").execute(NO_CONTEXT)


def test_a_motherduck_connection_is_wired_with_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network here: only the wiring (database string, token kept out of logs) is checked."""
    from airflow_source_simulator.sessions.registry import session_for_connection

    monkeypatch.setenv("AIRFLOW_CONN_MD", '{"conn_type": "duckdb", "schema": "sources", "password": "tok123"}')
    platform = session_for_connection("md")
    assert platform.hook.get_database() == "md:sources?motherduck_token=tok123"
    assert "tok123" not in platform.hook._redact_database(platform.hook.get_database())


def test_step_lines_read_like_the_operations_guide() -> None:
    from airflow_source_simulator.core.report import step_line
    from airflow_source_simulator.core.statements import Action, Step
    from airflow_source_simulator.schema import SchemaRole

    schemas: dict[SchemaRole, str] = {"shop": "jaffle_shop", "crm": "jaffle_crm"}
    assert (
        step_line(Step(Action.INSERT, "customers", 100), schemas, loading=True)
        == "  ✓ Loaded jaffle_shop.customers (100 rows)"
    )
    assert (
        step_line(Step(Action.UPDATE, "email_activity", 1), schemas, loading=False)
        == "  ✓ Updated jaffle_crm.email_activity (1 row)"
    )
    assert (
        step_line(Step(Action.UPDATE, "orders", 113, 8), schemas, loading=False)
        == "  ✓ Updated jaffle_shop.orders (113 rows, 8 soft-deleted)"
    )


def test_scale_and_fast_forward_reach_the_simulator(duckdb_connection: str) -> None:
    op = ApplyDeltaOperator(
        task_id="t", day=5, fast_forward=True, scale="{{ params.scale }}", conn_id=duckdb_connection
    )
    assert "scale" in op.template_fields
    op.scale = "2"  # as rendered
    result = op.execute(NO_CONTEXT)
    assert result["day"] == 5 and result["scale"] == 2
    with pytest.raises(SimulatorError, match="scale=0 is not valid"):
        ResetOperator(task_id="r", scale=0)


def test_a_bad_fast_forward_flag_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="fast_forward='maybe' is not valid: give True or False"):
        ApplyDeltaOperator(task_id="t", day=1, fast_forward="maybe")
