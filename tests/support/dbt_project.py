"""A dbt project that snapshots the simulated source's eight tables (SCD2, the timestamp strategy on
``updated_at``, hard deletes invalidated unless told otherwise), and the dbt process that runs it once a
simulated day."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from airflow_source_simulator.schema import TABLES
from tests.support.runner import Runner
from tests.support.sources import REPO

DBT_VENV = Path(os.environ.get("SOURCE_SIMULATOR_DBT_VENV", REPO / ".venv-dbt"))
SNAPSHOTS = "snapshots"  # the warehouse schema of the snapshot tables
TABLE_NAME = "{table}_snapshot"


def write_project(
    folder: Path,
    source: Path,
    warehouse: Path,
    *,
    hard_deletes: str = "invalidate",
    valid_to_current: str | None = None,
) -> None:
    """The project: the source attached read-only, one snapshot per table into ``snapshots.<table>_snapshot``.

    ``hard_deletes`` is dbt's (1.9 on): ``ignore`` leaves a deleted key's version open, ``invalidate`` closes
    it at the time of the run, ``new_record`` closes it and adds a row with ``dbt_is_deleted = 'True'``.
    ``valid_to_current``: dbt's ``dbt_valid_to_current``, a SQL expression (e.g. ``'9999-12-31'::timestamp``)
    that current versions hold in ``dbt_valid_to`` instead of NULL.
    """
    (folder / "models").mkdir(parents=True)
    (folder / "snapshots").mkdir()
    (folder / "dbt_project.yml").write_text(
        yaml.safe_dump({"name": "simulated", "version": "1.0", "profile": "simulated"})
    )
    profile = {
        "type": "duckdb",
        "path": str(warehouse),
        "threads": 1,
        "attach": [{"path": str(source), "alias": "src", "read_only": True}],
    }
    (folder / "profiles.yml").write_text(yaml.safe_dump({"simulated": {"target": "dev", "outputs": {"dev": profile}}}))
    sources = [
        {
            "name": schema,
            "database": "src",
            "schema": schema,
            "tables": [{"name": t.name} for t in TABLES if t.role == role],
        }
        for role, schema in (("shop", "jaffle_shop"), ("crm", "jaffle_crm"))
    ]
    (folder / "models" / "sources.yml").write_text(yaml.safe_dump({"version": 2, "sources": sources}))
    config = {
        "target_schema": SNAPSHOTS,
        "strategy": "timestamp",
        "updated_at": "updated_at",
        "hard_deletes": hard_deletes,
    }
    if valid_to_current is not None:
        config["dbt_valid_to_current"] = valid_to_current
    snapshots = [
        {
            "name": TABLE_NAME.format(table=t.name),
            "relation": f"source('{'jaffle_shop' if t.role == 'shop' else 'jaffle_crm'}', '{t.name}')",
            "config": {**config, "unique_key": t.key},
        }
        for t in TABLES
    ]
    (folder / "snapshots" / "all.yml").write_text(yaml.safe_dump({"snapshots": snapshots}))


class Snapshotter(Runner):
    """The dbt process: ``snapshot()`` runs `dbt snapshot` once and waits for it."""

    def __init__(self, project: Path) -> None:
        super().__init__(DBT_VENV, "dbt_runner.py", project, "dbt")

    def snapshot(self) -> None:
        self.ask("snapshot")
