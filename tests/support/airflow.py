"""A real Airflow 3 deployment on loopback for end-to-end tests: api-server, scheduler and dag-processor.

Each component runs as its own process in its own session (so its own process group), with a fresh
``AIRFLOW_HOME`` and a sqlite metadata database under a folder the caller gives. ``LocalExecutor`` is
Airflow 3's default and works on sqlite (the SequentialExecutor that Airflow 2 required is gone).
The REST API is reached with a JWT from the simple auth manager's ``POST /auth/token``, for a user whose
password the helper writes itself, so the real authentication path is exercised.

Leaving the ``with`` block always stops every process started, on a test failure, Ctrl-C or a SIGTERM
to the test process too: SIGTERM to each process group (the api-server last, as running tasks report
to it), then SIGKILL to whatever is left in the sessions after a timeout. The sessions, not only the
groups, are swept because the task supervisor moves each task runner into a process group of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"
COMPONENTS = ("api-server", "scheduler", "dag-processor")
USERNAME = "e2e"
LOG_TAIL_LINES = 40
OPENLINEAGE_EVENTS = "openlineage.jsonl"


class AirflowServerError(RuntimeError):
    """Airflow did not come up, or a component died; the message carries the tails of the logs."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_environment() -> dict[str, str]:
    """The caller's environment without any Airflow setting: the test session configures its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}


def _readable_line(line: str) -> str:
    """Task and component logs are JSON lines in Airflow 3; keep the time, level and message."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "event" not in record:
        return line
    text = f"{record.get('timestamp', '')} {record.get('level', '')} {record['event']}"
    for error in record.get("error_detail") or []:
        frames = "".join(f"\n    {f['filename']}:{f['lineno']} in {f['name']}" for f in error.get("frames", []))
        text += f"\n  {error.get('exc_type')}: {error.get('exc_value')}{frames}"
    return text


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return f"--- {path}: (no log)"
    content = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- {path} (last {len(content)} lines):\n" + "\n".join(_readable_line(line) for line in content)


def _session_members(session_ids: set[int]) -> list[psutil.Process]:
    """Live processes in the given sessions; zombies are dead and only wait to be reaped."""
    members = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) in session_ids:
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE:
                    members.append(process)
        except (OSError, psutil.Error):
            continue
    return members


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM (a CI timeout) into SystemExit, so the cleanup below runs instead of dying silently."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class AirflowServer:
    home: Path
    base_url: str
    source_database: Path
    password: str
    http: httpx.Client
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def component_log(self, name: str) -> Path:
        return self.home / f"{name}.log"

    def logs(self) -> str:
        return "\n".join(log_tail(self.component_log(name)) for name in ("db-migrate", *COMPONENTS))

    def fail(self, message: str) -> AirflowServerError:
        return AirflowServerError(f"{message}\nAIRFLOW_HOME: {self.home}\n{self.logs()}")

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def remaining_processes(self) -> list[psutil.Process]:
        """Every live process started by this deployment (the components' sessions)."""
        return _session_members(set(self.pids().values()))

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise self.fail(f"airflow {name} exited with code {process.returncode}")

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
        """Poll ``ready`` until it is true; fail with the logs if time runs out or a component dies."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                if ready():
                    return
            except httpx.TransportError:
                pass  # the api-server is not listening yet, or restarting a worker
            if time.monotonic() > deadline:
                raise self.fail(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(interval)

    def wait_for_health(self, timeout: float) -> None:
        """The api-server answers and sees a live scheduler and dag-processor heartbeat in the database."""

        def healthy() -> bool:
            response = self.http.get("/api/v2/monitor/health", timeout=5)
            if response.status_code != 200:
                return False
            health = response.json()
            return all(
                health.get(part, {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "dag_processor")
            )

        def execution_api_ready() -> bool:
            # The execution API builds its versioned routes on its first request, 6-7 s here; paying
            # that now keeps it out of the first task's start-up call.
            return self.http.get("/execution/health", timeout=timeout).status_code == 200

        deadline = time.monotonic() + timeout
        self.wait_until("the api-server, scheduler and dag-processor to report healthy", healthy, timeout)
        self.wait_until("the execution API", execution_api_ready, max(deadline - time.monotonic(), 1))

    def log_in(self) -> None:
        """Every later request carries the JWT the simple auth manager issues for the user and password."""
        response = self.http.post("/auth/token", json={"username": USERNAME, "password": self.password})
        if response.status_code != 201:
            raise self.fail(f"POST /auth/token answered {response.status_code}: {response.text}")
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        """The dag-processor has parsed the DAG into the database; an import error fails at once."""

        def parsed() -> bool:
            if self.http.get(f"/api/v2/dags/{dag_id}", timeout=5).status_code == 200:
                return True
            errors = self.http.get("/api/v2/importErrors", timeout=5).json()["import_errors"]
            if errors:
                details = "\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
                raise self.fail(f"the DAG folder has import errors:\n{details}")
            return False

        self.wait_until(f"the dag-processor to parse {dag_id}", parsed, timeout)

    def task_logs(self, dag_id: str, run_id: str) -> str:
        run_folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        return "\n".join(log_tail(path) for path in sorted(run_folder.glob("task_id=*/**/attempt=*.log")))

    def stop(self, timeout: float = 20) -> None:
        """Stop every component: the api-server last, since running tasks report to it as they finish."""
        self.http.close()
        self._stop([p for name, p in self.processes.items() if name != "api-server"], timeout)
        self._stop([p for name, p in self.processes.items() if name == "api-server"], timeout)

    @staticmethod
    def _stop(processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
        """SIGTERM each process group, then SIGKILL whatever is left in the sessions after ``timeout``."""
        sessions = {process.pid for process in processes}
        for process in processes:
            if process.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in processes:
                process.poll()  # reap our own children, or they linger as zombies
            if not _session_members(sessions):
                break
            time.sleep(0.2)
        for leftover in _session_members(sessions):
            with suppress(psutil.NoSuchProcess):
                leftover.kill()
        for process in processes:
            # A process that outlives SIGKILL is left for remaining_processes() to report.
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


def _environment(home: Path, port: int, source_database: Path, dags_folder: Path) -> dict[str, str]:
    environment = _clean_environment()
    environment.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # Task supervisors report to the execution API; its default URL is localhost:8080.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # Every component must sign and check JWTs with the same key; set it rather than rely on
            # the one `db migrate` happens to write into airflow.cfg.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(64),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            # The default 5 s is tight on two busy cores: the first task's start-up call once took
            # 6.7 s, timed out and was retried.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW_CONN_DUCKDB_DEFAULT": json.dumps({"conn_type": "duckdb", "host": str(source_database)}),
            # The openlineage provider's listener writes every event to a file, which the test reads.
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(home / OPENLINEAGE_EVENTS), "append": True}
            ),
        }
    )
    return environment


def _command(name: str, port: int) -> list[str]:
    if name == "api-server":
        return [str(AIRFLOW), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    if name == "scheduler":
        # The log server would listen on every interface on the fixed port 8793; the api-server reads
        # the task logs from the shared folder anyway.
        return [str(AIRFLOW), "scheduler", "--skip-serve-logs"]
    return [str(AIRFLOW), name]


@contextmanager
def airflow_server(
    root: Path,
    dags_folder: Path = REPO / "example_dags",
    startup_timeout: float = 90,
    stop_timeout: float = 20,
) -> Iterator[AirflowServer]:
    """Migrate a fresh sqlite database under ``root``, start the components, yield once healthy."""
    home = root / "airflow"
    home.mkdir(parents=True)
    port = _free_port()
    password = secrets.token_urlsafe(16)
    # The auth manager reads the users' passwords from this file; writing it first fixes the password.
    (home / "passwords.json").write_text(json.dumps({USERNAME: password}))
    server = AirflowServer(
        home=home,
        base_url=f"http://127.0.0.1:{port}",
        source_database=root / "source.duckdb",
        password=password,
        http=httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30),
    )
    environment = _environment(home, port, server.source_database, dags_folder)
    try:
        with _sigterm_raises():
            with server.component_log("db-migrate").open("wb") as log:
                migrate = subprocess.run(
                    [str(AIRFLOW), "db", "migrate"],
                    env=environment,
                    cwd=home,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=startup_timeout,
                    check=False,
                )
            if migrate.returncode != 0:
                raise server.fail(f"airflow db migrate exited with code {migrate.returncode}")
            for name in COMPONENTS:
                with server.component_log(name).open("wb") as log:
                    server.processes[name] = subprocess.Popen(
                        _command(name, port),
                        env=environment,
                        cwd=home,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            server.wait_for_health(startup_timeout)
            server.log_in()
            yield server
    finally:
        server.stop(stop_timeout)


def json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
