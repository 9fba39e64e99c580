"""A dlt pipeline over the simulated source (``tests/support/dlt_runner.py``, run in the dlt venv), and the
process that runs it once a simulated day."""

from __future__ import annotations

import json
import os
from pathlib import Path

from airflow_source_simulator.schema import TABLES
from tests.support.runner import Runner
from tests.support.sources import REPO

DLT_VENV = Path(os.environ.get("SOURCE_SIMULATOR_DLT_VENV", REPO / ".venv-dlt"))
SCHEMAS = {"shop": "jaffle_shop", "crm": "jaffle_crm"}
# Each source schema's tables (the ledger is the simulator's own) and their keys.
TABLES_BY_SCHEMA = {schema: {t.name: t.key for t in TABLES if t.role == role} for role, schema in SCHEMAS.items()}


class Loader(Runner):
    """The dlt process: ``load(...)`` runs the pipeline once and waits for it. One process serves every run
    of a test (importing dlt takes seconds); each run names its source, destination and backend."""

    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        super().__init__(DLT_VENV, "dlt_runner.py", work, "dlt")

    def load(
        self,
        *,
        name: str,
        source: Path,
        dataset: str,
        backend: str,
        destination: str,
        credentials: str,
    ) -> None:
        """Run pipeline ``name`` once: the eight tables of ``source`` (a DuckDB file) into ``dataset``."""
        request = {
            "name": name,
            "source": str(source),
            "dataset": dataset,
            "tables": TABLES_BY_SCHEMA,
            "backend": backend,
            "destination": destination,
            "credentials": credentials,
        }
        self.ask(json.dumps(request))
