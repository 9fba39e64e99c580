"""The README's "Testing your pipeline" examples, run as written against a real source and a real target: a
DuckDB source at cdc day 7 and a warehouse whose `raw` schema a loader filled (every table, with the loader's
own column), so that what the README shows passes where a user would try it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.sources import REPO

SECTION = re.compile(r"^## Testing your pipeline\n(.*?)^## ", re.S | re.M)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def examples() -> list[str]:
    section = SECTION.search((REPO / "README.md").read_text())
    assert section is not None, "README.md has no 'Testing your pipeline' section"
    blocks = BLOCK.findall(section.group(1))
    assert len(blocks) == 2, "the section's examples: a DAG's task and a pytest check"
    return list(blocks)


@pytest.fixture
def connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``duckdb_default`` (the source, at cdc day 7) and ``warehouse`` (its tables loaded into ``raw``)."""
    source, warehouse = tmp_path / "source.duckdb", tmp_path / "warehouse.duckdb"
    Simulator(DuckDBSession.for_database(str(source)), profile="cdc").apply_delta(7, fast_forward=True)
    with duckdb.connect(str(warehouse)) as db:
        db.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        db.execute("CREATE SCHEMA raw")
        tables = db.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'src' "
            "AND table_name <> 'source_simulator_ledger'"
        ).fetchall()
        assert len(tables) == 8
        for schema, table in tables:
            db.execute(f"CREATE TABLE raw.{table} AS SELECT *, 'load-1' AS _dlt_load_id FROM src.{schema}.{table}")
    for conn_id, path in (("DUCKDB_DEFAULT", source), ("WAREHOUSE", warehouse)):
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps({"conn_type": "duckdb", "host": str(path)}))
    return warehouse


def test_the_readmes_task_passes_on_a_correct_target(connections: Path) -> None:
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG("readme", schedule=None):
        namespace: dict[str, Any] = {"ingest": EmptyOperator(task_id="ingest")}
        exec(examples()[0], namespace)
    result = namespace["check"].execute(context={})
    assert result["ok"] is True, result["tables"]
    assert result["tables"]["jaffle_shop.customers"]["columns"]["ignored"] == ["_dlt_load_id"]


def test_the_readmes_pytest_check_passes_on_a_correct_target_and_fails_on_a_wrong_one(connections: Path) -> None:
    exec(examples()[1], {})
    with duckdb.connect(str(connections)) as db:
        db.execute("DELETE FROM raw.customers WHERE customer_id = 42")
    with pytest.raises(AssertionError) as failed:
        exec(examples()[1], {})
    assert "jaffle_shop.customers: 1 row missing" in str(failed.value)
