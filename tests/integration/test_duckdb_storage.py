"""The storage format of DuckDB files: new files are written readable by DuckDB 1.1 and later (opening them
with DuckDB 1.x is tests/system/test_duckdb_readers.py); a file already in DuckDB 2's format keeps it and keeps
working."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator

QUIET = logging.getLogger("tests.storage")


def storage_version(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT tags FROM duckdb_databases() WHERE path = ?", [str(path)]).fetchone()
    assert row is not None
    return str(row[0]["storage_version"])


def test_new_files_are_written_in_duckdb_1_format(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    Simulator(DuckDBSession.for_database(str(path)), log=QUIET).load_baseline()
    assert storage_version(path) == "v1.0.0+"


def test_a_file_in_duckdb_2_format_keeps_it_and_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "existing.duckdb"
    duckdb.connect(str(path)).close()
    assert storage_version(path) == "v2.0.0+"
    simulator = Simulator(DuckDBSession.for_database(str(path)), log=QUIET)
    simulator.load_baseline()
    simulator.apply_delta(1)
    assert simulator.status(verify=True)["verified"] is True
    assert storage_version(path) == "v2.0.0+"
