"""Distributed generation on Apache Spark (``local[2]``): each task generates one key range of one table,
and the rows are the local generator's, to the digest."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_source_simulator.core.states import expected_tables
from airflow_source_simulator.data.canonical import canonical_rows, digest, format_fetched_rows
from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import TABLES, tables_at
from airflow_source_simulator.spark import generate_state, generate_table, key_ranges, write_state

pyspark = pytest.importorskip("pyspark")
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # executors run this interpreter, with this package
    # py4j logs its shutdown at exit, after pytest has closed the streams logging would write to.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("source-simulator-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "America/New_York")  # TIMESTAMP_NTZ must not shift
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def spark_digest(frame: Any, table: Any) -> str:
    return digest(format_fetched_rows(table, frame.orderBy(table.key).collect()))


def test_a_generated_state_on_spark_equals_the_local_one(spark: Any) -> None:
    """Day 6 of the cdc profile at scale 3: hard deletes, a restored key and the added column, with key
    ranges that cut cohorts, order-item blocks and payment runs in the middle."""
    day, scale = 6, 3
    state = generate_state(spark, day=day, scale=scale, profile="cdc", rows_per_task=700)
    local = Generator(day, scale, "cdc")
    assert list(state) == [t.name for t in tables_at("cdc", day)]
    for table in tables_at("cdc", day):
        assert spark_digest(state[table.name], table) == digest(canonical_rows(table, local.table(table.name)))


def test_the_classic_day_three_on_spark_matches_the_manifest(spark: Any) -> None:
    state = generate_state(spark, day=3, rows_per_task=500)
    manifest = expected_tables(3, 1)
    for table in TABLES:
        assert spark_digest(state[table.name], table) == manifest[table.name]["digest"], table.name


def test_each_task_generates_its_own_key_range(spark: Any) -> None:
    ranges = key_ranges("order_items", 2, 5, rows_per_task=1000)
    frame = generate_table(spark, "order_items", day=2, scale=5, rows_per_task=1000)
    assert frame.rdd.getNumPartitions() == len(ranges) == 7

    def span(index: int, rows: Iterable[Any]) -> Iterable[tuple[int, int, int, int]]:
        keys = [row.order_item_id for row in rows]
        return [(index, min(keys), max(keys), len(keys))]

    seen = sorted(frame.rdd.mapPartitionsWithIndex(span).collect())
    assert [(lo, hi - 1, hi - lo) for lo, hi in ranges] == [(a, b, n) for _, a, b, n in seen]


def test_write_state_writes_every_table_into_its_schema(spark: Any) -> None:
    state = generate_state(spark, day=1)
    written = write_state(state, shop_schema="shop_source", crm_schema="crm_source", table_format="parquet")
    assert written[0] == "shop_source.customers" and written[-1] == "crm_source.web_sessions"
    expected = expected_tables(1, 1)
    for target, table in zip(written, TABLES, strict=True):
        assert spark.table(target).count() == expected[table.name]["rows"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"day": -1}, "days start at 0"),
        ({"day": "soon"}, "not a whole number"),
        ({"day": 3651}, "past the last simulated day"),
        ({"day": 1, "scale": 0}, "scale"),
        ({"day": 1, "profile": "chaos"}, "not a change profile"),
        ({"day": 1, "rows_per_task": 0}, "rows_per_task=0"),
        ({"day": 1, "table": "invoices"}, "unknown table 'invoices'"),
    ],
)
def test_bad_arguments_are_refused_before_spark_is_asked(arguments: dict[str, Any], message: str) -> None:
    table = arguments.pop("table", "orders")
    with pytest.raises(SimulatorError, match=message):
        generate_table(None, table, **arguments)  # type: ignore[arg-type]


def test_bad_names_are_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain identifier"):
        write_state({}, shop_schema="shop; DROP TABLE x")
