"""Benchmark: the classic simulation (baseline + days 1-3 + status) on DuckDB, in one run.

    make bench      (or: .venv/bin/python benchmarks/classic_simulation.py)

Reports, measured in this one run:
  1. in-process: the four operations through the simulator and the DuckDB hook, cold (first
     operation of the process, which pays Airflow's one-time plugin load) and warm (best of 5);
  2. end to end: `airflow dags test source_simulator_classic_days` in a fresh process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def classic_sequence(database: Path) -> float:
    from airflow_source_simulator.sessions.duckdb import DuckDBSession
    from airflow_source_simulator.simulator import Simulator

    database.unlink(missing_ok=True)
    simulator = Simulator(DuckDBSession.for_database(str(database)), log=logging.getLogger("bench"))
    started = time.perf_counter()
    simulator.load_baseline()
    for day in (1, 2, 3):
        simulator.apply_delta(day)
    status = simulator.status()
    elapsed = time.perf_counter() - started
    assert status["tables"]["jaffle_shop.customers"] == 175, status
    return elapsed


def dag_end_to_end(folder: Path) -> float:
    home = folder / "airflow"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW_CONN_DUCKDB_DEFAULT": f'{{"conn_type": "duckdb", "host": "{folder / "dag.duckdb"}"}}',
    }
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run([airflow, "dags", "test", "source_simulator_classic_days"], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cold = classic_sequence(folder / "cold.duckdb")
        warm = min(classic_sequence(folder / f"warm{i}.duckdb") for i in range(5))
        dag = dag_end_to_end(folder)
    print("classic simulation: baseline + days 1-3 + status on DuckDB (one run)")
    print(f"  in-process, warm (best of 5)       {warm * 1000:8.0f} ms")
    print(f"  in-process, cold (first in process) {cold * 1000:7.0f} ms")
    print(f"  DAG end to end (airflow dags test) {dag * 1000:8.0f} ms")
    print(f"  ratio DAG / in-process warm        {dag / warm:8.1f} x")


if __name__ == "__main__":
    main()
