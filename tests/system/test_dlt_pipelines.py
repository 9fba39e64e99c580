"""A replica built by a real loader, dlt (in its own venv), as a data engineer would run it once a simulated
day, passes the oracle at every day.

The pipeline (``tests/support/dlt_runner.py``): dlt's ``sql_database`` over the source's two schemas, the
eight tables merged on their keys, read incrementally on ``updated_at`` with a look-back of one day
(``incremental(..., lag=86400)``, for the cdc profile's late rows), and the target's keys reconciled with the
source's after each run (dlt's SQL source never sees a hard delete; the source also restores deleted keys
later, with a new ``updated_at``, which the merge re-inserts). It runs after the baseline and after every day;
dlt's own columns (``_dlt_id``, ``_dlt_load_id``) are ignored by pattern.

Into DuckDB: both profiles (classic days 0-3, cdc days 0-7), each with both of dlt's row backends, the default
``sqlalchemy`` (rows as dicts) and ``pyarrow`` (Arrow tables, no ``_dlt_id``/``_dlt_load_id`` columns), into
two warehouses from the same simulated source. At day 0 the source's ``payments`` is empty and dlt creates
no target table for it (with either backend), which the oracle must accept. Into PostgreSQL (the suite's
private cluster): the cdc profile only, with the default backend. The cdc profile holds everything the
classic one does and adds late rows, hard deletes, restored keys, double saves and a schema change; the
pyarrow backend's differences (its columns, Arrow types) are the source side's and are covered on DuckDB;
what PostgreSQL adds is the destination's own DDL, types and merge SQL. The file's 32 dlt runs (about 1.5 s
of CPU each: source reflection, dlt's configuration, extract, normalize, load) are most of its 75 s of CPU.
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_source_simulator import verify_target
from airflow_source_simulator.sessions.base import Session
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.dlt_pipeline import DLT_VENV, Loader
from tests.support.postgres import PostgresServer
from tests.support.sources import postgres_session

pytestmark = pytest.mark.slow
QUIET = logging.getLogger("tests.dlt")
DAYS = {"classic": 3, "cdc": 7}
BACKENDS = ("sqlalchemy", "pyarrow")
DATASET = "raw"  # the dlt dataset (target schema) of both source schemas' tables


@pytest.fixture
def loader(tmp_path: Path) -> Iterator[Loader]:
    python = DLT_VENV / "bin" / "python"
    probe = [str(python), "-c", "import dlt.sources.sql_database, duckdb_engine, psycopg2"]
    if not python.exists() or subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip(
            f"dlt is not installed in {DLT_VENV}: `make system` (or `make test`) installs it from "
            "requirements-dlt.txt; or point SOURCE_SIMULATOR_DLT_VENV at one."
        )
    dlt = Loader(tmp_path / "dlt")
    yield dlt
    dlt.close()


def check(source: Path, target: Session, label: str) -> None:
    report = verify_target(
        source_session=DuckDBSession.for_database(str(source)),
        target_session=target,
        target_schema=DATASET,
        ignore_columns=["_dlt_*"],
        log=QUIET,
    )
    assert report.ok, "\n".join([label, *report.lines()])


def days(source: Path, profile: str) -> Iterator[int]:
    """Simulate the profile's days on ``source``: the baseline, then each day, yielding the day after each."""
    simulator = Simulator(DuckDBSession.for_database(str(source)), profile=profile, log=QUIET)
    simulator.load_baseline()
    for day in range(DAYS[profile] + 1):
        if day:
            simulator.apply_delta(day)
        yield day


@pytest.mark.parametrize("profile", DAYS)
def test_dlt_into_duckdb_passes_the_oracle_every_day(loader: Loader, tmp_path: Path, profile: str) -> None:
    source = tmp_path / "source.duckdb"
    for day in days(source, profile):
        for backend in BACKENDS:
            warehouse = tmp_path / f"warehouse_{backend}.duckdb"
            loader.load(
                name=f"duckdb_{backend}",
                source=source,
                dataset=DATASET,
                backend=backend,
                destination="duckdb",
                credentials=str(warehouse),
            )
            check(source, DuckDBSession.for_database(str(warehouse)), f"{profile} day {day}, {backend} backend")


def test_dlt_into_postgres_passes_the_oracle_every_day(
    loader: Loader, tmp_path: Path, postgres: PostgresServer, pg_database: str, pg_conn_id: str
) -> None:
    source = tmp_path / "source.duckdb"
    # dlt's PostgreSQL credentials must hold a password; the private cluster's trust authentication ignores it.
    server = dataclasses.replace(postgres, password=postgres.password or "unused")
    for day in days(source, "cdc"):
        loader.load(
            name="postgres",
            source=source,
            dataset=DATASET,
            backend="sqlalchemy",
            destination="postgres",
            credentials=server.uri(pg_database),
        )
        check(source, postgres_session(pg_conn_id), f"cdc day {day}")
