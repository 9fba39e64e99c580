"""A task in another process that applies a day to a DuckDB file and stops in the middle of its transaction.

Run as ``python -m tests.support.duckdb_writer <file> <day>``: it prints ``PAUSED`` once it holds the
file (inside its transaction, before the ledger row), waits for a line on stdin, finishes, and prints
``RESULT`` and the operation's status as JSON. The tests start it to have a second writer that is really another process.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

from airflow_source_simulator.schema import LEDGER_TABLE
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator


class PausingHook(DuckDBHook):
    """A real DuckDB hook that stops before the statement writing the ledger until stdin says go on."""

    def _run_command(self, cur: Any, sql_statement: str, parameters: Any) -> None:
        if f"{LEDGER_TABLE} (" in sql_statement and sql_statement.lstrip().startswith("INSERT"):
            print("PAUSED", flush=True)
            sys.stdin.readline()
        super()._run_command(cur, sql_statement, parameters)


def main() -> None:
    path, day = sys.argv[1], int(sys.argv[2])
    result = Simulator(DuckDBSession(PausingHook(database=path, log_sql=False))).apply_delta(day)
    print("RESULT", json.dumps({"changed": result["changed"], "day": result["day"]}), flush=True)


if __name__ == "__main__":
    main()
