"""OpenLineage facets of the operators (the openlineage provider installed), on DuckDB and PostgreSQL: a load
creates the eight tables, a day reports the rows it wrote, the cdc profile's day 5 alters customers, a reset
and a fast-forward overwrite; a status reads them; a no-op and a failure report no writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openlineage.client.serde import Serde

from airflow_source_simulator.core.states import expected_tables, state_digest
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.operators import (
    ApplyDeltaOperator,
    LoadBaselineOperator,
    ResetOperator,
    StatusOperator,
)
from airflow_source_simulator.schema import TABLES, tables_at
from tests.support.dags import NO_CONTEXT


@pytest.fixture(params=["duckdb", "postgres"])
def engine(request: pytest.FixtureRequest, duckdb_path: Path) -> tuple[str, str, str]:
    """(conn_id, the OpenLineage namespace, the database part of each table's name)."""
    if request.param == "duckdb":
        return request.getfixturevalue("duckdb_connection"), "duckdb", duckdb_path.stem
    postgres = request.getfixturevalue("postgres")
    return (
        request.getfixturevalue("pg_conn_id"),
        f"postgres://{postgres.host}:{postgres.port}",
        request.getfixturevalue("pg_database"),
    )


def run(operator: Any) -> dict[str, Any]:
    operator.execute(NO_CONTEXT)
    lineage = operator.get_openlineage_facets_on_complete(None)
    datasets = lineage.outputs if operator.writes else lineage.inputs
    assert not (lineage.inputs if operator.writes else lineage.outputs)
    out = {}
    for dataset in datasets:
        as_dict = Serde.to_dict(dataset)  # what the listener sends: it must serialise
        out[as_dict["name"]] = as_dict
    return out


def by_table(datasets: dict[str, Any], namespace: str, database: str) -> dict[str, Any]:
    out = {}
    for name, dataset in datasets.items():
        assert dataset["namespace"] == namespace
        db, schema, table = name.split(".")
        assert db == database and schema == {"shop": "jaffle_shop", "crm": "jaffle_crm"}[TABLES_ROLE[table]]
        out[table] = dataset
    return out


TABLES_ROLE = {t.name: t.role for t in TABLES}


def lifecycle(dataset: dict[str, Any]) -> str | None:
    facet = dataset["facets"].get("lifecycleStateChange")
    return facet["lifecycleStateChange"] if facet else None


def row_count(dataset: dict[str, Any]) -> int | None:
    facet = dataset.get("outputFacets", {}).get("outputStatistics")
    return facet["rowCount"] if facet else None


def written(day: int, profile: str = "classic") -> dict[str, int]:
    """Rows a day writes per table, from the generator: inserts, updates, first saves, hard deletes."""
    out = {}
    for name, delta in day_delta(day, profile=profile).items():
        sizes = [
            len(next(iter(part.values()))) if part else 0 for part in (delta.inserted, delta.updated, delta.touched)
        ]
        total = sum(sizes) + len(delta.hard_deleted)
        if total:
            out[name] = total
    return out


def test_load_day_status_reset_and_fast_forward(engine: tuple[str, str, str]) -> None:
    conn_id, namespace, database = engine
    baseline = {name: figures["rows"] for name, figures in expected_tables(0, 1).items()}

    loaded = by_table(run(LoadBaselineOperator(task_id="load", conn_id=conn_id)), namespace, database)
    assert set(loaded) == {t.name for t in TABLES}
    assert {t: lifecycle(d) for t, d in loaded.items()} == dict.fromkeys(loaded, "CREATE")
    assert {t: row_count(d) for t, d in loaded.items()} == baseline
    assert {d["facets"]["version"]["datasetVersion"] for d in loaded.values()} == {state_digest(0, 1)}
    customers = loaded["customers"]["facets"]["schema"]["fields"]
    assert [f["name"] for f in customers] == [c.name for c in TABLES[0].columns]
    assert all(f["type"] for f in customers)

    day = by_table(run(ApplyDeltaOperator(task_id="d1", conn_id=conn_id, day=1)), namespace, database)
    assert {t: lifecycle(d) for t, d in day.items()} == dict.fromkeys(day)
    assert {t: row_count(d) for t, d in day.items() if row_count(d)} == written(1)
    assert {d["facets"]["version"]["datasetVersion"] for d in day.values()} == {state_digest(1, 1)}

    again = by_table(run(ApplyDeltaOperator(task_id="d1", conn_id=conn_id, day=1)), namespace, database)
    assert set(again) == set(day)
    assert [(lifecycle(d), row_count(d)) for d in again.values()] == [(None, None)] * len(again)

    status = by_table(run(StatusOperator(task_id="s", conn_id=conn_id)), namespace, database)
    assert set(status) == set(day)
    assert all(lifecycle(d) is None and "outputFacets" not in d for d in status.values())

    reset = by_table(run(ResetOperator(task_id="r", conn_id=conn_id)), namespace, database)
    assert {t: lifecycle(d) for t, d in reset.items()} == dict.fromkeys(reset, "OVERWRITE")
    assert {t: row_count(d) for t, d in reset.items()} == baseline

    forward = by_table(
        run(ApplyDeltaOperator(task_id="ff", conn_id=conn_id, day=3, fast_forward=True)), namespace, database
    )
    assert {t: lifecycle(d) for t, d in forward.items()} == dict.fromkeys(forward, "OVERWRITE")
    assert {t: row_count(d) for t, d in forward.items()} == {n: f["rows"] for n, f in expected_tables(3, 1).items()}


def test_the_cdc_day_that_adds_a_column_alters_customers(engine: tuple[str, str, str]) -> None:
    conn_id, namespace, database = engine
    run(ApplyDeltaOperator(task_id="ff", conn_id=conn_id, day=4, fast_forward=True, profile="cdc"))
    day5 = by_table(run(ApplyDeltaOperator(task_id="d5", conn_id=conn_id, day=5, profile="cdc")), namespace, database)
    assert {t: lifecycle(d) for t, d in day5.items() if lifecycle(d)} == {"customers": "ALTER"}
    fields = [f["name"] for f in day5["customers"]["facets"]["schema"]["fields"]]
    assert fields == [c.name for c in tables_at("cdc", 5)[0].columns] and "loyalty_tier" in fields
    assert {t: row_count(d) for t, d in day5.items() if row_count(d)} == written(5, "cdc")
    # Generated states carry no digest in the ledger: their version names the state, a pure function of it.
    assert day5["customers"]["facets"]["version"]["datasetVersion"] == "cdc/scale-1/day-5"


def test_a_failed_operation_reports_no_writes(engine: tuple[str, str, str]) -> None:
    conn_id, _, _ = engine
    unknown = ApplyDeltaOperator(task_id="d3", conn_id="no_such_connection", day=3)
    with pytest.raises(Exception, match="no_such_connection"):
        unknown.execute(NO_CONTEXT)
    assert unknown.get_openlineage_facets_on_failure(None).outputs == []  # it never reached a source
    load = LoadBaselineOperator(task_id="load", conn_id=conn_id)
    load.execute(NO_CONTEXT)
    refused = ApplyDeltaOperator(task_id="d3", conn_id=conn_id, day=3)
    with pytest.raises(Exception, match="day 3"):
        refused.execute(NO_CONTEXT)
    lineage = refused.get_openlineage_facets_on_failure(None)
    assert len(lineage.outputs) == len(TABLES)
    assert all(not d.outputFacets and "lifecycleStateChange" not in d.facets for d in lineage.outputs)
    # The load's own writes, reported as a failure would be: none of them (the previous state stands).
    failed = load.get_openlineage_facets_on_failure(None).outputs
    assert all(not d.outputFacets and "lifecycleStateChange" not in d.facets for d in failed)
    assert any(d.outputFacets for d in load.get_openlineage_facets_on_complete(None).outputs)
