"""The operators executed on DuckDB connections: the four operations, scale and fast-forward."""

from __future__ import annotations

import json

import pytest

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.operators import (
    ApplyDeltaOperator,
    LoadBaselineOperator,
    ResetOperator,
    StatusOperator,
)
from tests.support.dags import NO_CONTEXT


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


@pytest.mark.parametrize(
    ("field", "literal", "rendered", "message"),
    [
        ("day", 0, "0", "day=0 is not valid"),
        ("scale", 0, "0", "scale=0 is not valid"),
        ("profile", "nope", "nope", "profile='nope' is not"),
        ("fast_forward", "maybe", "maybe", "fast_forward='maybe' is not valid: give True or False"),
        ("shop_schema", "a b", "a b", "shop_schema='a b' is not a plain identifier"),
    ],
)
def test_a_value_resolved_at_run_time_is_checked_then_with_the_literal_message(
    duckdb_connection: str, field: str, literal: object, rendered: object, message: str
) -> None:
    arguments = {"day": 1, "conn_id": duckdb_connection, field: "{{ params.value }}"}
    task = ApplyDeltaOperator(task_id="t", **arguments)  # type: ignore[arg-type]
    setattr(task, field, rendered)  # as the template rendered it
    with pytest.raises(ValueError, match=message):
        task.execute(NO_CONTEXT)
    with pytest.raises(ValueError, match=message):  # the same message as the literal's, at parse time
        ApplyDeltaOperator(task_id="t", **{**arguments, field: literal})  # type: ignore[arg-type]


def test_flags_from_templates_may_be_text_but_literal_text_is_refused(duckdb_connection: str) -> None:
    with pytest.raises(ValueError, match="force='True' is not valid: give True or False"):
        LoadBaselineOperator(task_id="l", force="True")
    with pytest.raises(ValueError, match="verify='yes' is not valid: give True or False"):
        StatusOperator(task_id="s", verify="yes")
    load = LoadBaselineOperator(task_id="l", conn_id=duckdb_connection, force="{{ params.force }}")
    load.force = "false"  # as rendered
    assert load.execute(NO_CONTEXT)["day"] == 0
    status = StatusOperator(task_id="s", conn_id=duckdb_connection, verify="{{ params.verify }}")
    status.verify = "True"
    assert status.execute(NO_CONTEXT)["verified"] is True
    status.verify = "maybe"
    with pytest.raises(ValueError, match="verify='maybe' is not valid: give True or False"):
        status.execute(NO_CONTEXT)
