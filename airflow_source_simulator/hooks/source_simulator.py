"""The ``source_simulator`` connection type: one form for a simulated source on any platform.

Its ``platform`` field picks the engine; the simulator then drives that engine's own hook (DuckDB,
PostgreSQL, SQL Server, Databricks) with the same connection, so the form's fields mean what they
mean for that engine. Connections of the engines' own types work just as well; this type only adds a
form whose hints speak of the simulator.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from airflow_source_simulator.sessions.registry import CONN_TYPE


class SourceSimulatorHook(BaseHook):
    """Names the connection type and its form; the work is done by the platform's own hook.

    :param source_simulator_conn_id: a connection of type ``source_simulator``.
    """

    conn_name_attr = "source_simulator_conn_id"
    default_conn_name = "source_simulator_default"
    conn_type = CONN_TYPE
    hook_name = "Source Simulator"

    def __init__(self, source_simulator_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_simulator_conn_id = source_simulator_conn_id

    def get_conn(self) -> Any:
        raise NotImplementedError(
            "a source_simulator connection is used through the simulator's operators, which open it with its "
            "platform's own hook"
        )
