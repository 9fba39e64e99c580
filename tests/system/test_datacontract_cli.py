"""datacontract-cli, in its own venv, lints every packaged ODCS contract and tests it against DuckDB databases
the simulator loaded."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from airflow_source_simulator.data.scenario import CDC, CLASSIC
from airflow_source_simulator.render import ODCS_FOLDER
from airflow_source_simulator.schema import TABLES
from tests.support.contracts import CONTRACTS, SQL, STATES, load_states
from tests.support.sources import REPO

DATACONTRACT_VENV = Path(os.environ.get("SOURCE_SIMULATOR_DATACONTRACT_VENV", REPO / ".venv-datacontract"))


_DATACONTRACT_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from datacontract.data_contract import DataContract

    results = []
    for contract, database in json.loads(sys.argv[1]):
        lint = DataContract(data_contract_file=contract).lint()
        os.environ["DATACONTRACT_DUCKDB_DATABASE"] = database  # the duckdb server's `database`, overridden
        run = DataContract(data_contract_file=contract, server="duckdb").test()
        results.append({
            "contract": os.path.basename(contract),
            "database": os.path.basename(database),
            "lint": str(lint.result.value),
            "result": str(run.result.value),
            "checks": len(run.checks),
            "failed": [f"{c.field or ''} {c.name}: {c.reason}" for c in run.checks if c.result.value != "passed"],
        })
    print("RESULTS " + json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return load_states(tmp_path_factory.mktemp("contracts"))


def _datacontract_python() -> Path:
    python = DATACONTRACT_VENV / "bin" / "python"
    probe = (
        subprocess.run([str(python), "-c", "import datacontract"], capture_output=True, check=False)
        if python.exists()
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip(
            f"datacontract-cli is not installed in {DATACONTRACT_VENV}: it needs a venv of its own (its duckdb<1.6 "
            "pin conflicts with the project's duckdb), e.g. `python3 -m venv .venv-datacontract && "
            ".venv-datacontract/bin/pip install -r requirements-datacontract.txt`; or point "
            "SOURCE_SIMULATOR_DATACONTRACT_VENV at one."
        )
    return python


@pytest.mark.slow
def test_datacontract_cli_lints_and_tests_every_contract_against_duckdb(
    databases: dict[str, Path],
) -> None:
    # The simulator's files are opened as they are: they are written readable by DuckDB 1.1 and later,
    # and datacontract-cli pins an older DuckDB than the project's.
    python = _datacontract_python()
    readable = databases
    jobs = [
        (str(SQL / ODCS_FOLDER / c.file_name), str(readable[state]))
        for state, (profile, day) in STATES.items()
        for c in CONTRACTS
        if c.describes(profile, day) and (state == "classic day 3" or not c.describes(CLASSIC, 3))
    ]
    # The control: the cdc customers document on a classic database must fail, on its missing column.
    control = (str(SQL / ODCS_FOLDER / f"customers.{CDC}.odcs.yaml"), str(readable["classic day 3"]))
    run = subprocess.run(
        [str(python), "-c", _DATACONTRACT_SCRIPT, json.dumps([*jobs, control])],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("DATACONTRACT_")},
        timeout=600,
    )
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("RESULTS ")]
    *results, control_result = json.loads(line.removeprefix("RESULTS "))
    assert len(results) == len(TABLES) + 1
    assert all(r["lint"] == "passed" for r in [*results, control_result]), [r for r in results if r["lint"] != "passed"]
    assert [r for r in results if r["result"] != "passed" or r["failed"]] == []
    assert all(r["checks"] >= 20 for r in results), results
    assert control_result["result"] == "failed"
    assert any("loyalty_tier" in f for f in control_result["failed"]), control_result
