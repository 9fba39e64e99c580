"""A process that forks a child per operation, so a test can SIGKILL an operation at any moment of its run.

Run as ``python -m tests.support.killable``: it imports everything once, then reads one JSON command a line
from stdin — ``{"engine": "duckdb" | "postgres", "target": <file or database URI>, "operation": <name>,
"scale": n}`` — and forks a child that runs the operation and prints, line by line:
``START <pid>`` before the operation, ``LEDGER <pid>`` once its ledger statement has run (just before the
commit), ``DONE <pid>``. The parent prints ``EXIT <pid> <status>`` when the child has ended (killed or not).
The child is the operation alone: no Airflow task, no thread but the engine's.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from airflow.providers.duckdb.hooks.duckdb import DuckDBHook
from airflow.providers.postgres.hooks.postgres import PostgresHook

from airflow_source_simulator.core.statements import Action, Step
from airflow_source_simulator.sessions.base import Session
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.sessions.postgres import PostgresSession
from airflow_source_simulator.simulator import Simulator

OPERATIONS = {
    "load": lambda s: s.load_baseline(),
    "day": lambda s: s.apply_delta("next"),
    "fast_forward": lambda s: s.apply_delta(6, fast_forward=True),
    "reset": lambda s: s.reset(),
}


def _session(engine: str, target: str) -> Session:
    if engine == "duckdb":
        return DuckDBSession(DuckDBHook(database=target, log_sql=False))
    os.environ["AIRFLOW_CONN_KILLABLE_PG"] = target
    return PostgresSession(PostgresHook(postgres_conn_id="killable_pg", log_sql=False))


def _run(command: dict[str, Any]) -> None:
    pid = os.getpid()
    session = _session(command["engine"], command["target"])
    run = session.run

    def telling_run(work: Any, on_step: Any, **kwargs: Any) -> None:
        def step(done: Step) -> None:
            on_step(done)
            if done.action == Action.LEDGER:
                print(f"LEDGER {pid}", flush=True)

        run(work, step, **kwargs)

    session.run = telling_run  # type: ignore[method-assign]
    simulator = Simulator(session, scale=command["scale"])
    print(f"START {pid}", flush=True)
    OPERATIONS[command["operation"]](simulator)
    print(f"DONE {pid}", flush=True)


def _warm_up() -> None:
    """What a first operation pays once per process (lazy imports, Arrow's start-up), paid here before any fork,
    so that the children's runs are the operations alone. Nothing stays open."""
    from airflow_source_simulator.data.arrow import to_arrow, to_csv
    from airflow_source_simulator.data.delta import day_delta
    from airflow_source_simulator.schema import TABLES_BY_NAME

    change = day_delta(2, 2)["orders"]
    to_csv(to_arrow(TABLES_BY_NAME["orders"], change.inserted))
    # The hooks' first statements import what they need; an in-memory database is closed again before any fork.
    quiet = logging.getLogger("killable.warm_up")
    quiet.propagate = False
    quiet.addHandler(logging.NullHandler())
    session = DuckDBSession(DuckDBHook(database=":memory:", log_sql=False))
    Simulator(session, scale=2, log=quiet).apply_delta(2, fast_forward=True)


def main() -> None:
    _warm_up()
    print("READY", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        child = os.fork()
        if child == 0:
            code = 0
            try:
                _run(command)
            except BaseException as error:  # the child reports and ends; the parent goes on serving
                print(f"ERROR {os.getpid()} {error!r}", flush=True)
                code = 1
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        print(f"EXIT {child} {status}", flush=True)


if __name__ == "__main__":
    main()
