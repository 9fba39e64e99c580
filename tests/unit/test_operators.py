"""The operators as a DAG file sees them: imports, templated fields, arguments refused when the DAG is parsed,
connections refused by name before anything is opened, and the task log's wording."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import airflow_source_simulator
from airflow_source_simulator import operators
from airflow_source_simulator.assets import sanitize_uri
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.operators import (
    ApplyDeltaOperator,
    LoadBaselineOperator,
    StatusOperator,
)
from airflow_source_simulator.operators.simulator import day_of_run
from tests.support.dags import NO_CONTEXT

UTC = dt.UTC


def test_operators_import_from_the_package_and_the_operators_module() -> None:
    for name in ("LoadBaselineOperator", "ApplyDeltaOperator", "ResetOperator", "StatusOperator"):
        assert getattr(airflow_source_simulator, name) is getattr(operators, name)


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


def test_a_bad_fast_forward_flag_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="fast_forward='maybe' is not valid: give True or False"):
        ApplyDeltaOperator(task_id="t", day=1, fast_forward="maybe")


def test_writing_operators_declare_the_eight_table_assets_of_their_source() -> None:
    task = ApplyDeltaOperator(task_id="t", day=1, conn_id="erp", shop_schema="shop", crm_schema="crm")
    assert [a.uri for a in task.outlets] == [
        "source-simulator://erp/shop/customers",
        "source-simulator://erp/shop/products",
        "source-simulator://erp/shop/orders",
        "source-simulator://erp/shop/order_items",
        "source-simulator://erp/shop/payments",
        "source-simulator://erp/crm/campaigns",
        "source-simulator://erp/crm/email_activity",
        "source-simulator://erp/crm/web_sessions",
    ]
    assert LoadBaselineOperator(task_id="l", outlets=[]).outlets == []  # the user's choice wins
    assert LoadBaselineOperator(task_id="m", conn_id="{{ params.conn }}").outlets == []  # unknown until run


def test_the_uri_scheme_is_registered_and_checked() -> None:
    from urllib.parse import urlsplit

    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    assert "source-simulator" in ProvidersManagerTaskRuntime().asset_uri_handlers
    uri = "source-simulator://duckdb_default/jaffle_shop/customers"
    assert sanitize_uri(urlsplit(uri)).geturl() == uri
    for bad in ("source-simulator://duckdb_default/customers", "source-simulator:///jaffle_shop/customers"):
        with pytest.raises(ValueError, match="<conn_id>/<schema>/<table>"):
            sanitize_uri(urlsplit(bad))


def test_auto_counts_days_from_the_start_date() -> None:
    start = dt.datetime(2024, 4, 1, tzinfo=UTC)
    assert day_of_run(None, start) == "next"
    assert day_of_run(start, start) == 1
    assert day_of_run(dt.datetime(2024, 4, 3, 0, 0, tzinfo=UTC), start) == 3
    assert day_of_run(dt.datetime(2024, 4, 3, 23, 59, tzinfo=UTC), start) == 3
    # Calendar days in the start date's zone: the short night of a DST change still counts one day.
    amsterdam = dt.datetime(2024, 3, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert day_of_run(dt.datetime(2024, 3, 31, 22, 0, tzinfo=UTC), amsterdam) == 3  # 2024-04-01 00:00 there
    with pytest.raises(SimulatorError, match="before the start date"):
        day_of_run(dt.datetime(2024, 3, 31, tzinfo=UTC), start)
    with pytest.raises(SimulatorError, match="start_date"):
        day_of_run(start, None)


def _task_output() -> object:
    """A task's output as a DAG file passes it: an XComArg."""
    from airflow.sdk import DAG, task

    with DAG("outputs", schedule=None):

        @task
        def pick() -> int:
            return 2

        return pick()


def test_task_outputs_and_templates_are_accepted_when_the_dag_is_parsed() -> None:
    output = _task_output()
    for name in (
        "day",
        "scale",
        "profile",
        "fast_forward",
        "enable_cdc",
        "day_partitions",
        "conn_id",
        "shop_schema",
        "crm_schema",
    ):
        ApplyDeltaOperator(task_id=f"apply_{name}", **{"day": 1, name: output})  # type: ignore[arg-type]
    LoadBaselineOperator(task_id="load", force=output, scale="{% if true %}2{% endif %}")  # type: ignore[arg-type]
    StatusOperator(task_id="status", verify=output)  # type: ignore[arg-type]
    # A source named by a task's output is unknown until the task runs: no asset URIs are made from it.
    assert ApplyDeltaOperator(task_id="out", day=1, conn_id=output).outlets == []
