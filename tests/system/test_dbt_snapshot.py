"""An SCD2 target built by a real tool, `dbt snapshot` (dbt-core with dbt-duckdb, in its own venv), run once
a simulated day from the baseline on, passes the oracle at every day of both profiles; one version taken
out of it is named."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from airflow_source_simulator import verify_target
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.dbt_project import DBT_VENV, SNAPSHOTS, TABLE_NAME, Snapshotter, write_project

pytestmark = pytest.mark.slow
QUIET = logging.getLogger("tests.dbt")
DAYS = {"classic": 3, "cdc": 7}


@pytest.fixture
def snapshots(tmp_path: Path) -> Iterator[tuple[Path, Path, Snapshotter]]:
    probe = subprocess.run([str(DBT_VENV / "bin" / "python"), "-c", "import dbt.adapters.duckdb"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(
            f"dbt-duckdb is not installed in {DBT_VENV}: `make system` (or `make test`) installs it from "
            "requirements-dbt.txt; or point SOURCE_SIMULATOR_DBT_VENV at one."
        )
    source, warehouse = tmp_path / "source.duckdb", tmp_path / "warehouse.duckdb"
    write_project(tmp_path / "project", source, warehouse)
    dbt = Snapshotter(tmp_path / "project")
    yield source, warehouse, dbt
    dbt.close()


def check(source: Path, warehouse: Path) -> object:
    return verify_target(
        source_session=DuckDBSession.for_database(str(source)),
        target_session=DuckDBSession.for_database(str(warehouse)),
        target_schema=SNAPSHOTS,
        table_name=TABLE_NAME,
        mode="scd2",
        log=QUIET,
    )


@pytest.mark.parametrize("profile", DAYS)
def test_dbt_snapshots_of_every_day_pass_the_oracle(snapshots: tuple[Path, Path, Snapshotter], profile: str) -> None:
    source, warehouse, dbt = snapshots
    simulator = Simulator(DuckDBSession.for_database(str(source)), profile=profile, log=QUIET)
    simulator.load_baseline()
    for day in range(DAYS[profile] + 1):
        if day:
            simulator.apply_delta(day)
        dbt.snapshot()
        report = check(source, warehouse)
        assert report.ok, (day, report.lines())  # type: ignore[attr-defined]
    with duckdb.connect(str(warehouse)) as db:  # one version of a changed customer taken out
        key, start = db.execute(
            f"SELECT customer_id, max(dbt_valid_from) FROM {SNAPSHOTS}.customers_snapshot GROUP BY 1 "
            "HAVING count(*) > 1 ORDER BY 1 LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        db.execute(
            f"DELETE FROM {SNAPSHOTS}.customers_snapshot WHERE customer_id = ? AND dbt_valid_from = ?", [key, start]
        )
    damaged = check(source, warehouse)
    customers = next(t for t in damaged.tables if not t.ok).to_dict()  # type: ignore[attr-defined]
    assert customers["versions_missing"]["count"] == 1
    assert customers["versions_missing"]["sample"][0]["key"][0] == key
