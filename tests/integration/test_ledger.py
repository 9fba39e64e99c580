"""The ledger as earlier versions wrote it is read by this one: its ``scenario`` column is the profile."""

from __future__ import annotations

from pathlib import Path

import duckdb

from airflow_source_simulator import packaged
from airflow_source_simulator.core.statements import packaged_statements
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator

# The row airflow-source-simulator 0.1.0 wrote after loading the baseline, in the column order of its DDL.
RELEASED_LEDGER_ROW = (
    "INSERT INTO jaffle_shop.source_simulator_ledger (seq, operation, day, scale, scenario, shop_schema, "
    "crm_schema, package_version, ledger_version, state_digest, applied_at) VALUES "
    "(1, 'load_baseline', 0, 1, 'classic', 'jaffle_shop', 'jaffle_crm', '0.1.0', 1, '{digest}', "
    "TIMESTAMP '2026-11-30 10:00:00')"
)


def test_a_database_loaded_by_the_released_version_is_read_verified_and_carried_on(tmp_path: Path) -> None:
    path = tmp_path / "released.duckdb"
    with duckdb.connect(str(path)) as con:
        for file in (packaged.SCHEMA_FILE, packaged.BASELINE_FILE):
            for statement in packaged_statements("duckdb", file):
                con.execute(statement.with_schemas('"jaffle_shop"', '"jaffle_crm"').sql)
        con.execute(RELEASED_LEDGER_ROW.format(digest=packaged.manifest()["states"]["0"]["state_digest"]))
    simulator = Simulator(DuckDBSession.for_database(str(path)))
    status = simulator.status(verify=True)
    assert (status["day"], status["profile"], status["scale"], status["verified"]) == (0, "classic", 1, True)
    assert simulator.apply_delta(1)["tables"]["jaffle_shop.customers"] == 125
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("SELECT seq, operation, day, scenario FROM jaffle_shop.source_simulator_ledger ORDER BY seq")
        assert rows.fetchall() == [(1, "load_baseline", 0, "classic"), (2, "apply_delta", 1, "classic")]
