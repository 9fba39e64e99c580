"""Connection passwords and tokens never appear in task logs, XCom, or anything else Airflow keeps.

A DAG runs the operators for real (``dag.test()``: the task runner, XCom and the metadata database) on
connections whose secrets are distinctive strings: a PostgreSQL password, a MotherDuck-style token in a
DuckDB connection's extra, and the same on connections that fail (a server that cannot be reached, a
MotherDuck database whose extension is missing, an operation refused). Then every captured log record
(raw, before Airflow's masking), everything written to stdout and stderr (where ``dag.test()``'s task
runner writes what a worker writes to its task log file), every file under AIRFLOW_HOME (the metadata
database) and every XCom value are searched for the secrets.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest

from airflow_source_simulator.operators import (
    ApplyDeltaOperator,
    LoadBaselineOperator,
    ResetOperator,
    StatusOperator,
)
from tests.support.postgres import PostgresServer

PG_PASSWORD = f"pg-password-{secrets.token_hex(12)}"
UNREACHABLE_PASSWORD = f"unreachable-password-{secrets.token_hex(12)}"
EXTRA_TOKEN = f"extra-token-{secrets.token_hex(12)}"
MOTHERDUCK_TOKEN = f"motherduck-token-{secrets.token_hex(12)}"
SECRETS = (PG_PASSWORD, UNREACHABLE_PASSWORD, EXTRA_TOKEN, MOTHERDUCK_TOKEN)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch, postgres: PostgresServer, pg_database: str, tmp_path: Path) -> None:
    """The private cluster trusts loopback, so a password is carried (and must be kept secret) but not checked."""
    environment = {
        "SECRET_PG": {
            "conn_type": "postgres",
            "host": postgres.host,
            "port": postgres.port,
            "login": postgres.user,
            "password": PG_PASSWORD,
            "schema": pg_database,
        },
        "SECRET_PG_UNREACHABLE": {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": 1,
            "login": "simulator",
            "password": UNREACHABLE_PASSWORD,
            "schema": "sources",
        },
        # The file is opened (extra "database" comes first); the token rides along in the extra.
        "SECRET_DUCKDB": {
            "conn_type": "duckdb",
            "extra": {"database": str(tmp_path / "source.duckdb"), "motherduck_token": EXTRA_TOKEN},
        },
        # MotherDuck: the token is the password; without the motherduck extension opening it fails.
        "SECRET_MOTHERDUCK": {"conn_type": "duckdb", "schema": "sources", "password": MOTHERDUCK_TOKEN},
    }
    for conn_id, fields in environment.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps(fields))


def _dag() -> Any:
    from airflow.sdk import DAG

    with DAG(
        dag_id="reliability_secrets",
        schedule=None,
        start_date=dt.datetime(2024, 4, 1, tzinfo=dt.UTC),
        catchup=False,
        max_active_runs=1,
    ) as dag:
        for prefix, conn_id in (("pg", "secret_pg"), ("duckdb", "secret_duckdb")):
            common: dict[str, Any] = {"conn_id": conn_id}
            load = LoadBaselineOperator(task_id=f"{prefix}_load", **common)
            day_1 = ApplyDeltaOperator(task_id=f"{prefix}_day_1", day=1, **common)
            status = StatusOperator(task_id=f"{prefix}_status", verify=True, **common)
            refused = ApplyDeltaOperator(task_id=f"{prefix}_day_3_refused", day=3, **common)
            load >> day_1 >> status >> refused
        ResetOperator(task_id="unreachable_reset", conn_id="secret_pg_unreachable")
        StatusOperator(task_id="motherduck_status", conn_id="secret_motherduck")
    return dag


def _register(dag: Any) -> None:
    """Write the DAG to the metadata database as the DAG processor would, in the example DAGs' bundle."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    bag = DagBag(collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def _xcom_values(dag_run: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {f"{row.task_id}.{row.key}": row.value for row in rows}


def test_secrets_never_reach_task_logs_xcom_or_the_metadata_database(
    dagbag: Any,
    connections: None,
    airflow_db: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    dag = _dag()
    _register(dag)
    run = dag.test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {
        "pg_load": "success",
        "pg_day_1": "success",
        "pg_status": "success",
        "pg_day_3_refused": "failed",
        "duckdb_load": "success",
        "duckdb_day_1": "success",
        "duckdb_status": "success",
        "duckdb_day_3_refused": "failed",
        "unreachable_reset": "failed",
        "motherduck_status": "failed",
    }
    xcoms = _xcom_values(run)
    assert xcoms["pg_status.return_value"]["verified"] is True and xcoms["duckdb_day_1.return_value"]["day"] == 1
    captured = capfd.readouterr()
    records = "\n".join(
        f"{record.getMessage()}\n{record.exc_text or ''}\n{logging.Formatter().formatException(record.exc_info) if record.exc_info else ''}"
        for record in caplog.records
    )
    logs = "\n".join([records, captured.out, captured.err])
    # The logs are the task logs: the operations' lines and the failures' messages are in them.
    for line in (
        "Ledger: apply_delta recorded at day 1",
        "cannot apply day 3: the database is at day 1",
        "could not connect to PostgreSQL",
        "could not connect to DuckDB",
    ):
        assert line in logs, f"{line!r} is not in the captured logs"
    kept = {"logs": logs, "xcom": json.dumps(xcoms, default=str)}
    files = [path for path in airflow_db.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in files)
    for secret in SECRETS:
        for where, text in kept.items():
            assert secret not in text, f"a secret ({secret[:12]}…) is in the {where}"
        for path in files:
            assert secret.encode() not in path.read_bytes(), f"a secret ({secret[:12]}…) is in {path}"
