"""A private PostgreSQL cluster for the tests: initdb in a temporary folder, loopback only, logical WAL.

PostgreSQL 15 is installed on every machine here (``/usr/lib/postgresql/15/bin``); the cluster runs
as the ``postgres`` system user when the tests run as root, since PostgreSQL refuses root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def uri(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def airflow_connection(self, database: str) -> str:
        return (
            f'{{"conn_type": "postgres", "host": "{self.host}", "port": {self.port}, '
            f'"login": "{self.user}", "schema": "{database}"}}'
        )


def find_binary(name: str) -> Path | None:
    for folder in BIN_DIRS:
        if (folder / name).exists():
            return folder / name
    found = shutil.which(name)
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql")
    root = Path(tempfile.mkdtemp(prefix="source-simulator-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    subprocess.run(
        [*prefix, str(initdb), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c wal_level=logical -c fsync=off "
        "-c full_page_writes=off -c max_wal_senders=4 -c max_replication_slots=4"
    )
    subprocess.run(
        [*prefix, str(pg_ctl), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        server = PostgresServer("127.0.0.1", port, "postgres")
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((server.host, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        subprocess.run([*prefix, str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
