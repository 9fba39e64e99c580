"""Files the simulator writes open in DuckDB 1.x: a day-3 source read table by table with DuckDB 1.1 (in a venv
of its own) has every table's manifest digest; a file written in DuckDB 2's own format, as a connection can
ask for, is refused by it (the control)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from airflow_source_simulator.core.states import expected_tables
from airflow_source_simulator.data.digests import TableDigest
from airflow_source_simulator.defaults import CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.sources import REPO

pytestmark = pytest.mark.slow
DUCKDB1_VENV = Path(os.environ.get("SOURCE_SIMULATOR_DUCKDB1_VENV", REPO / ".venv-duckdb1"))
QUIET = logging.getLogger("tests.duckdb1")

# Runs in DuckDB 1.x: each table in key order to a Parquet file, which this process digests.
_EXPORT = textwrap.dedent(
    """
    import json, sys
    import duckdb
    database, folder, tables = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    con = duckdb.connect(database, read_only=True)
    for schema, name, key in tables:
        con.execute(f"COPY (SELECT * FROM {schema}.{name} ORDER BY {key}) TO '{folder}/{name}.parquet' (FORMAT parquet)")
    print("DUCKDB " + duckdb.__version__)
    """
)


def _duckdb1() -> Path:
    python = DUCKDB1_VENV / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import duckdb"], capture_output=True) if python.exists() else None
    if probe is None or probe.returncode != 0:
        pytest.skip(
            f"DuckDB 1.x is not installed in {DUCKDB1_VENV}: `make system` (or `make test`) installs it from "
            "requirements-duckdb1.txt; or point SOURCE_SIMULATOR_DUCKDB1_VENV at one."
        )
    return python


def _export(python: Path, database: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    schemas = {"shop": SHOP_SCHEMA, "crm": CRM_SCHEMA}
    tables = [[schemas[t.role], t.name, t.key] for t in TABLES]
    return subprocess.run(
        [str(python), "-c", _EXPORT, str(database), str(folder), json.dumps(tables)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_duckdb_1_reads_every_table_of_a_day_3_source(tmp_path: Path) -> None:
    python = _duckdb1()
    database = tmp_path / "source.duckdb"
    Simulator(DuckDBSession.for_database(str(database)), log=QUIET).apply_delta(3, fast_forward=True)
    run = _export(python, database, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-1].startswith("1."), run.stdout
    found = {}
    for table in TABLES:
        digest = TableDigest(table)
        digest.update(pq.read_table(tmp_path / f"{table.name}.parquet"))
        found[table.name] = digest.figures()
    expected = expected_tables(3, 1)
    assert found == {name: {figure: expected[name][figure] for figure in figures} for name, figures in found.items()}
    assert set(found) == set(expected)


def test_a_file_in_duckdb_2_format_is_refused_by_duckdb_1(tmp_path: Path) -> None:
    python = _duckdb1()
    database = tmp_path / "latest.duckdb"
    os.environ["AIRFLOW_CONN_SOURCE_LATEST"] = json.dumps(
        {
            "conn_type": "duckdb",
            "host": str(database),
            "extra": {"settings": {"storage_compatibility_version": "latest"}},
        }
    )
    try:
        from airflow.sdk import BaseHook

        session = DuckDBSession.from_connection("source_latest", BaseHook.get_connection("source_latest"))
        Simulator(session, log=QUIET).apply_delta(3, fast_forward=True)
    finally:
        del os.environ["AIRFLOW_CONN_SOURCE_LATEST"]
    run = _export(python, database, tmp_path)
    assert run.returncode != 0
    assert "Serialization" in run.stderr or "version" in run.stderr, run.stderr[-2000:]
