"""Generate a state on Apache Spark, for scales beyond one worker's memory.

Every row is a pure function of (scale, day, profile, table, key), so a table's key space is cut into
ranges and each Spark task generates one range with NumPy, handing Arrow batches to Spark
(``mapInArrow``). The rows are the ones the operators load, to the digest.

Needs ``pyspark`` (4.0 or later, the ``spark`` extra) and this package on the driver and every executor
(on Databricks: install the wheel as a cluster library); Airflow is not needed. Example::

    from airflow_source_simulator.spark import generate_state, write_state

    state = generate_state(spark, day=30, scale=20_000)
    write_state(state, catalog="dev", shop_schema="jaffle_shop", crm_schema="jaffle_crm")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from airflow_source_simulator.core.arguments import parse_day, parse_profile, parse_scale
from airflow_source_simulator.core.names import validate_schema_name
from airflow_source_simulator.data.arrow import to_arrow
from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.data.scenario import CLASSIC, max_id
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import TABLES, Table, tables_at

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

ROWS_PER_TASK = 1_000_000
"""Keys per Spark task: about 200 MB of NumPy columns at the peak, well within an executor core's share."""


def spark_schema(table: Table) -> StructType:
    """The Spark schema of a table. Timestamps are TIMESTAMP_NTZ holding the UTC wall-clock time, so no
    session time zone shifts them."""
    from pyspark.sql import types as T

    spark_types = {
        "int": T.LongType(),
        "varchar": T.StringType(),
        "decimal": T.DecimalType(10, 2),
        "timestamp": T.TimestampNTZType(),
        "date": T.DateType(),
        "bool": T.BooleanType(),
    }
    return T.StructType([T.StructField(c.name, spark_types[c.type], c.nullable) for c in table.columns])


def key_ranges(table: str, day: int, scale: int, rows_per_task: int = ROWS_PER_TASK) -> list[tuple[int, int]]:
    """The ``[lo, hi)`` key ranges, one per task, that cover ``table`` at (day, scale)."""
    top = max_id(table, day, scale)
    return [(lo, min(lo + rows_per_task, top + 1)) for lo in range(1, top + 1, rows_per_task)] or [(1, 1)]


def _for_spark(rows: pa.Table) -> pa.Table:
    """Spark reads tz-naive Arrow timestamps as TIMESTAMP_NTZ, in microseconds only."""
    fields = [f.with_type(pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f for f in rows.schema]
    return rows.cast(pa.schema(fields))


def _range_generator(
    table: Table, day: int, scale: int, profile: str, rows_per_task: int
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """What each task runs: task ``i`` generates the keys ``1 + i * rows_per_task`` onwards."""

    def generate(tasks: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in tasks:
            for task in batch.column(0).to_pylist():
                lo = 1 + task * rows_per_task
                columns = Generator(day, scale, profile, keys=(lo, lo + rows_per_task)).table(table.name)
                yield from _for_spark(to_arrow(table, columns)).to_batches()

    return generate


def _parse_rows_per_task(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SimulatorError(f"rows_per_task={value!r} is not valid: give a whole number of keys from 1.")
    return value


def generate_table(
    spark: SparkSession,
    table: str,
    *,
    day: int,
    scale: int = 1,
    profile: str = CLASSIC,
    rows_per_task: int = ROWS_PER_TASK,
) -> DataFrame:
    """One table of the state of ``day`` as a DataFrame with one partition per key range (lazy: the rows
    are generated when an action runs)."""
    day, rows_per_task = parse_day(day, baseline=True), _parse_rows_per_task(rows_per_task)
    scale, profile = parse_scale(scale), parse_profile(profile)
    definitions = {t.name: t for t in tables_at(profile, day)}
    if table not in definitions:
        raise SimulatorError(f"unknown table {table!r}; the tables at day {day} are {', '.join(definitions)}")
    definition = definitions[table]
    tasks = len(key_ranges(table, day, scale, rows_per_task))
    return spark.range(tasks, numPartitions=tasks).mapInArrow(
        _range_generator(definition, day, scale, profile, rows_per_task), spark_schema(definition)
    )


def generate_state(
    spark: SparkSession, *, day: int, scale: int = 1, profile: str = CLASSIC, rows_per_task: int = ROWS_PER_TASK
) -> dict[str, DataFrame]:
    """Every table of the state of ``day``, by name (the CDC profile adds ``customers.loyalty_tier`` from
    its schema-change day on)."""
    return {
        t.name: generate_table(spark, t.name, day=day, scale=scale, profile=profile, rows_per_task=rows_per_task)
        for t in tables_at(parse_profile(profile), parse_day(day, baseline=True))
    }


def write_state(
    state: dict[str, DataFrame],
    *,
    catalog: str | None = None,
    shop_schema: str = "jaffle_shop",
    crm_schema: str = "jaffle_crm",
    table_format: str = "delta",
) -> list[str]:
    """Write a generated state as tables, replacing them: shop tables in ``shop_schema``, CRM tables in
    ``crm_schema`` (created if missing), under ``catalog`` when given. Returns the tables written.

    These tables are a dataset, not a simulator-managed database: there is no ledger, so the operators
    will not apply days to them. States this large are generated for their day, not replayed.
    """
    names = [validate_schema_name(v, p) for v, p in ((shop_schema, "shop_schema"), (crm_schema, "crm_schema"))]
    prefix = [validate_schema_name(catalog, "catalog")] if catalog is not None else []
    roles = {t.name: t.role for t in TABLES}
    written = []
    for name, frame in state.items():
        schema = names[0] if roles[name] == "shop" else names[1]
        frame.sparkSession.sql(f"CREATE SCHEMA IF NOT EXISTS {'.'.join((*prefix, schema))}")
        target = ".".join((*prefix, schema, name))
        frame.write.format(table_format).mode("overwrite").option("overwriteSchema", "true").saveAsTable(target)
        written.append(target)
    return written
