"""The committed contracts as data, and databases in the states they describe."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from airflow_source_simulator import contracts
from airflow_source_simulator.data.scenario import CDC, CLASSIC, SCHEMA_CHANGE_DAY
from airflow_source_simulator.render import DBT_SOURCES_FILE, ODCS_FOLDER
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.sources import REPO

SQL = REPO / "sql"
# The states the contracts are checked on: the last classic day, and the cdc profile's schema change.
STATES = {"classic day 3": (CLASSIC, 3), f"cdc day {SCHEMA_CHANGE_DAY}": (CDC, SCHEMA_CHANGE_DAY)}
CONTRACTS = contracts.contracts()


@cache
def odcs(stem: str) -> dict[str, Any]:
    return yaml.safe_load((SQL / ODCS_FOLDER / f"{stem}.odcs.yaml").read_text(encoding="utf-8"))


@cache
def dbt_sources() -> dict[str, Any]:
    return yaml.safe_load((SQL / DBT_SOURCES_FILE).read_text(encoding="utf-8"))


def load_states(folder: Path) -> dict[str, Path]:
    """A DuckDB file per state, loaded by the simulator day by day as a pipeline would see it."""
    out = {}
    for state, (profile, last_day) in STATES.items():
        path = folder / f"{profile}_{last_day}.duckdb"
        simulator = Simulator(DuckDBSession.for_database(str(path)), profile=profile)
        simulator.load_baseline()
        for day in range(1, last_day + 1):
            simulator.apply_delta(day)
        out[state] = path
    return out
