"""Arguments resolved when the task runs, in real DAG runs (``dag.test()``): a day from another task's output,
a connection from one, an apply mapped over several sources (each schema pair its own source), and a DAG
that renders its templates as native objects."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, task

from airflow_source_simulator.operators import ApplyDeltaOperator, LoadBaselineOperator, StatusOperator
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.dags import return_value, serialize, states

pytestmark = pytest.mark.slow
START = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
QUIET = logging.getLogger("tests.runtime")


def day_of(path: Path, shop: str = "jaffle_shop", crm: str = "jaffle_crm") -> Any:
    status = Simulator(DuckDBSession.for_database(str(path)), shop_schema=shop, crm_schema=crm, log=QUIET).status()
    return status["day"]


def test_a_day_and_a_connection_from_task_outputs(airflow_db: Path, duckdb_connection: str, duckdb_path: Path) -> None:
    with DAG("outputs_as_inputs", schedule=None, start_date=START) as dag:

        @task
        def source() -> str:
            return duckdb_connection

        @task
        def which_day() -> int:
            return 2

        conn = source()
        load = LoadBaselineOperator(task_id="load", conn_id=conn)
        apply = ApplyDeltaOperator(task_id="apply", conn_id=conn, day=which_day(), fast_forward=True)  # type: ignore[arg-type]
        load >> apply
    assert apply.outlets == []  # the source is unknown until the task runs
    run = serialize(dag).test()
    assert run.state == "success", states(run)
    assert return_value(run, "apply")["day"] == 2
    assert day_of(duckdb_path) == 2


def test_an_apply_mapped_over_schemas_makes_each_its_own_source(
    airflow_db: Path, duckdb_connection: str, duckdb_path: Path
) -> None:
    sources = [{"shop_schema": f"shop_{n}", "crm_schema": f"crm_{n}"} for n in ("a", "b", "c")]
    with DAG("mapped_sources", schedule=None, start_date=START) as dag:
        load = LoadBaselineOperator.partial(task_id="load", conn_id=duckdb_connection).expand_kwargs(sources)
        days = ApplyDeltaOperator.partial(task_id="apply", conn_id=duckdb_connection, day=1).expand_kwargs(sources)
        load >> days
    run = serialize(dag).test()
    assert run.state == "success", states(run)
    assert [day_of(duckdb_path, s["shop_schema"], s["crm_schema"]) for s in sources] == [1, 1, 1]


def test_templates_rendered_as_native_objects(airflow_db: Path, duckdb_connection: str, duckdb_path: Path) -> None:
    with DAG(
        "native_templates",
        schedule=None,
        start_date=START,
        render_template_as_native_obj=True,
        params={"day": 3, "scale": 2, "fast_forward": True, "verify": True, "force": False},
    ) as dag:
        load = LoadBaselineOperator(
            task_id="load", conn_id=duckdb_connection, scale="{{ params.scale }}", force="{{ params.force }}"
        )
        apply = ApplyDeltaOperator(
            task_id="apply",
            conn_id=duckdb_connection,
            day="{{ params.day }}",
            scale="{{ params.scale }}",
            fast_forward="{{ params.fast_forward }}",
        )
        status = StatusOperator(task_id="status", conn_id=duckdb_connection, verify="{{ params.verify }}")
        load >> apply >> status
    run = serialize(dag).test()
    assert run.state == "success", states(run)
    result = return_value(run, "status")
    assert (result["day"], result["scale"], result["verified"]) == (3, 2, True)
