"""Which session serves which Airflow connection."""

from __future__ import annotations

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.sessions import SESSIONS, Session

# The simulator's own connection type (hooks/source_simulator.py): its ``platform`` field names the engine.
CONN_TYPE = "source_simulator"
PLATFORM_FIELD = "platform"


def platform_of(extra: dict[str, object]) -> object:
    """The form's ``platform`` value, as the UI stores it (plain, or prefixed by older forms)."""
    return extra.get(PLATFORM_FIELD, extra.get(f"extra__{CONN_TYPE}__{PLATFORM_FIELD}"))


def session_class(conn_type: str | None) -> type[Session]:
    for session in SESSIONS:
        if conn_type in session.conn_types:
            return session
    supported = ", ".join(sorted(t for s in SESSIONS for t in s.conn_types))
    raise SimulatorError(
        f"connection type {conn_type!r} is not supported by the source simulator; supported: {supported}."
    )


def session_for_connection(conn_id: str) -> Session:
    """The session of an Airflow connection, with its hook. Reads the connection; opens nothing."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise SimulatorError(
            f"Airflow connection {conn_id!r} does not exist. Create it, for example with "
            f'AIRFLOW_CONN_{conn_id.upper()}=\'{{"conn_type": "duckdb", "host": "/path/to/source.duckdb"}}\'.'
        ) from None
    conn_type = connection.conn_type
    if conn_type == CONN_TYPE:
        chosen = platform_of(connection.extra_dejson)
        names = {s.dialect.name: s for s in SESSIONS}
        if chosen not in names:
            raise SimulatorError(
                f"connection {conn_id!r} (type {CONN_TYPE}) has platform={chosen!r}; set its platform to one of "
                f"{', '.join(names)}."
            )
        return names[str(chosen)].from_connection(conn_id, connection)
    return session_class(conn_type).from_connection(conn_id, connection)
