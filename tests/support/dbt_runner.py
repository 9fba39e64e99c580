"""Runs `dbt snapshot` on request, in the dbt venv (dbt-core pins what Airflow's set does not allow).

Run as ``<dbt venv>/bin/python tests/support/dbt_runner.py <project folder>``: it imports dbt once, prints
``READY``, then for every line ``snapshot`` on stdin runs ``dbt snapshot`` in-process and prints
``DONE ok`` or ``DONE failed <error>``. After each run it closes dbt-duckdb's connection, whose read-only
attachment of the source would otherwise keep the simulator from writing the next day.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    project = sys.argv[1]
    os.environ.update({"DBT_PROFILES_DIR": project, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"})
    os.chdir(project)
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    runner = dbtRunner()
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() != "snapshot":
            continue
        result = runner.invoke(["snapshot", "--quiet"])
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None
        error = "" if result.success else f" {result.exception!r}"
        print(f"DONE {'ok' if result.success else 'failed'}{error}", flush=True)


if __name__ == "__main__":
    main()
