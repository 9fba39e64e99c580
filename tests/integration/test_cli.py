"""The command line, ``python -m airflow_source_simulator``, run as CI runs it: a subprocess whose connections
come from ``AIRFLOW_CONN_*`` variables, printing JSON on stdout, exiting 0, 1 (refused, or a target that
differs) or 2 (a bad argument, with the operators' message)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_source_simulator.core.arguments import parse_day
from airflow_source_simulator.errors import ArgumentError
from airflow_source_simulator.schema import TABLES

DAY_CUSTOMERS = {0: 100, 1: 125, 2: 147, 3: 175}
TARGET = ["--target-schema", "jaffle_shop=raw_shop", "--target-schema", "jaffle_crm=raw_crm"]


def cli(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow_source_simulator", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def result(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON on stdout of a command that succeeded (stdout holds nothing else)."""
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stderr[-3000:]}"
    return dict(json.loads(run.stdout))


def connection(path: Path) -> str:
    return json.dumps({"conn_type": "duckdb", "host": str(path)})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def env(folder: Path) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_DUCKDB_DEFAULT": connection(folder / "source.duckdb"),
        "AIRFLOW_CONN_CLI_SOURCE": connection(folder / "source.duckdb"),
    }


@pytest.fixture(scope="module")
def statuses(folder: Path, env: dict[str, str]) -> dict[int, dict[str, Any]]:
    """The source loaded and taken through days 1-3 by the command line (default connection); each status."""
    out = {0: result(cli("load", env=env, cwd=folder))}
    for day in (1, 2, 3):
        out[day] = result(cli("apply", "--day", str(day), env=env, cwd=folder))
    return out


def test_load_and_three_days_then_status_verifies(
    folder: Path, env: dict[str, str], statuses: dict[int, dict[str, Any]]
) -> None:
    for day, status in statuses.items():
        assert status["day"] == day and status["changed"] is True and status["profile"] == "classic"
        assert status["tables"]["jaffle_shop.customers"] == DAY_CUSTOMERS[day]
    # Common options go before or after the command.
    verified = result(cli("--conn-id", "cli_source", "status", "--verify", env=env, cwd=folder))
    assert verified["verified"] is True and verified["day"] == 3 and verified["scale"] == 1
    assert verified["tables"]["jaffle_shop.customers"] == 175
    assert verified["state_digest"] == statuses[3]["state_digest"]
    again = result(cli("status", "--conn-id", "cli_source", env=env, cwd=folder))
    assert "verified" not in again and again["tables"] == verified["tables"]


def test_a_day_out_of_order_is_refused_with_exit_1_and_changes_nothing(
    folder: Path, env: dict[str, str], statuses: dict[int, dict[str, Any]]
) -> None:
    refused = cli("apply", "--day", "5", env=env, cwd=folder)
    assert refused.returncode == 1, refused.stderr[-3000:]
    assert refused.stdout == ""
    assert "cannot apply day 5: the database is at day 3. Apply day 4 first" in refused.stderr
    assert "or give --fast-forward to build the day directly" in refused.stderr  # the command line's words
    assert "fast_forward=True" not in refused.stderr
    with duckdb.connect(str(folder / "source.duckdb"), read_only=True) as db:
        (day,) = db.execute("SELECT max(day) FROM jaffle_shop.source_simulator_ledger").fetchone() or (None,)
    assert day == 3


# A check of day 3 without the source: refused before any connection is looked up.
CHECK_DAY_3 = ["verify-target", "--target-conn-id", "w", "--target-schema", "raw", "--day", "3"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["apply", "--day", "0"], "day=0 is not valid: days start at 1"),
        (["apply", "--day", "abc"], "day='abc' is not a whole number"),
        (["load", "--scale", "0"], "scale=0 is not valid: give a whole number from 1 to 100,000"),
        (["--profile", "weekly", "load"], "profile='weekly' is not a change profile"),
        (["apply"], "the following arguments are required: --day"),
        *[
            (
                [*CHECK_DAY_3, "--table-name", name],
                f"has the field {field}: the only fields are {{schema}} and {{table}}",
            )
            for name, field in (
                ("{table}{table.nope}", "{table.nope}"),
                ("{table}{table[x]}", "{table[x]}"),
                ("{0}", "{0}"),
                ("{table}{schema.upper}", "{schema.upper}"),
                ("{table!r}", "{table!r}"),
            )
        ],
        (
            [*CHECK_DAY_3, "--table-name", "{table"],
            "is not valid (expected '}' before end of string): write braces as {{ and }}",
        ),
        ([*CHECK_DAY_3, "--tables", "orderz"], "tables names 'orderz', which is not a source table"),
    ],
)
def test_a_bad_argument_exits_2_with_the_operators_message(tmp_path: Path, args: list[str], message: str) -> None:
    refused = cli(*args, env={}, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert message in refused.stderr
    assert not list(tmp_path.iterdir())  # nothing was created


def test_the_messages_are_the_operators() -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_day("abc")
    refused = cli("apply", "--day", "abc", env={}, cwd=Path.cwd())
    assert str(caught.value) in refused.stderr


def copy_source(source: Path, target: Path) -> None:
    """A target that matches: the eight tables copied into raw_shop and raw_crm of another DuckDB file."""
    with duckdb.connect(str(target)) as db:
        db.execute(f"ATTACH '{source}' AS source (READ_ONLY)")
        for role in ("shop", "crm"):
            db.execute(f"CREATE SCHEMA raw_{role}")
        for table in TABLES:
            db.execute(
                f"CREATE TABLE raw_{table.role}.{table.name} AS SELECT * FROM source.jaffle_{table.role}.{table.name}"
            )


def test_verify_target_exits_0_on_a_match_and_1_naming_a_deleted_row(
    folder: Path, env: dict[str, str], statuses: dict[int, dict[str, Any]]
) -> None:
    warehouse = folder / "warehouse.duckdb"
    copy_source(folder / "source.duckdb", warehouse)
    env = {**env, "AIRFLOW_CONN_WAREHOUSE": connection(warehouse)}
    report = result(cli("verify-target", "--target-conn-id", "warehouse", *TARGET, env=env, cwd=folder))
    assert report["ok"] is True and report["day"] == 3 and report["mode"] == "replica"
    assert len(report["tables"]) == 8 and all(t["ok"] for t in report["tables"].values())
    assert report["tables"]["jaffle_shop.customers"]["found_rows"] == 175

    with duckdb.connect(str(warehouse)) as db:
        db.execute("DELETE FROM raw_shop.customers WHERE customer_id = 42")
    differs = cli("verify-target", "--target-conn-id", "warehouse", *TARGET, env=env, cwd=folder)
    assert differs.returncode == 1, differs.stderr[-3000:]
    report = json.loads(differs.stdout)  # the whole report, for the job's artifacts
    assert report["ok"] is False
    customers = report["tables"]["jaffle_shop.customers"]
    assert customers["rows_missing"]["count"] == 1 and customers["rows_missing"]["sample"][0]["key"] == 42
    assert [name for name, table in report["tables"].items() if not table["ok"]] == ["jaffle_shop.customers"]
    assert "jaffle_shop.customers: 1 row missing — unexplained by any simulated change" in differs.stderr

    # Checked without the source: the state given as --day.
    by_day = cli(
        "verify-target",
        "--conn-id",
        "nowhere",
        "--target-conn-id",
        "warehouse",
        *TARGET,
        "--day",
        "3",
        env=env,
        cwd=folder,
    )
    assert by_day.returncode == 2 and "give either the source (--conn-id)" in by_day.stderr
    assert "or --day (with --scale and --profile) to check without the source; not both" in by_day.stderr
    by_day = cli("verify-target", "--target-conn-id", "warehouse", *TARGET, "--day", "2", env=env, cwd=folder)
    assert by_day.returncode == 1 and json.loads(by_day.stdout)["day"] == 2
