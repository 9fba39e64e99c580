"""Status and verify only read: they open a DuckDB file read-only, so they work beside other readers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from airflow_source_simulator.simulator import Simulator
from tests.support.sources import SimulatorFactory

HOLD_READ_ONLY = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("OPEN", flush=True)
time.sleep(60)
"""


def test_status_and_verify_read_beside_another_process_reading_the_file(
    make_simulator: SimulatorFactory, duckdb_path: Path
) -> None:
    make_simulator().load_baseline()
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD_READ_ONLY, str(duckdb_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "OPEN"
        started = time.monotonic()
        simulator: Simulator = make_simulator()
        status = simulator.status(verify=True)
        assert status["verified"] is True and status["day"] == 0
        assert time.monotonic() - started < 10, "status must not wait for the other reader"
    finally:
        reader.kill()
        reader.wait()
