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
