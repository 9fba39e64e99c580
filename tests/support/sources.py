"""Simulated sources for the tests: the repository's root, simulators on real engines, and their digests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from airflow_source_simulator.data.canonical import digest, format_fetched_rows
from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.sessions.postgres import PostgresSession
from airflow_source_simulator.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]
SimulatorFactory = Callable[..., Simulator]


def postgres_session(conn_id: str) -> PostgresSession:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresSession(PostgresHook(postgres_conn_id=conn_id, log_sql=False))


def digests(simulator: Simulator) -> dict[str, str]:
    """The content digest of each table, read back through the simulator's own session."""
    out = {}
    for t in TABLES:
        rows = simulator.session.query(f"SELECT {', '.join(t.column_names)} FROM {simulator.ref(t)} ORDER BY 1")
        out[t.name] = digest(format_fetched_rows(t, rows))
    return out


# The classic day 3 at scale 1, per table: the operations guide's counts.
DAY_3_COUNTS = {
    "jaffle_shop.customers": 175,
    "jaffle_shop.products": 20,
    "jaffle_shop.orders": 680,
    "jaffle_shop.order_items": 1502,
    "jaffle_shop.payments": 374,
    "jaffle_crm.campaigns": 5,
    "jaffle_crm.email_activity": 250,
    "jaffle_crm.web_sessions": 300,
}
