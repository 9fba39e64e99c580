"""The CI recipes of docs/ci/ run as their CI would run them: every job's shell steps in order, in a checkout of
its own, with the job's environment, except the package install (the package is this venv's). The DuckDB files
land in the checkout, and the PostgreSQL service container is replaced by the suite's private server (a fresh
database per job). Each job must end with ``verify-target`` reporting a warehouse equal to the source at day 3."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.postgres import PostgresServer
from tests.support.sources import DAY_3_COUNTS

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "docs" / "ci"
RECIPES = ("github-actions.yml", "gitlab-ci.yml", "azure-pipelines.yml")
INSTALL = re.compile(r"(python -m )?pip install ")
PACKAGE = '"airflow-source-simulator[postgres]"'
# GitLab's top-level keywords: everything else at the top is a job (or, starting with a dot, a template).
GITLAB_KEYWORDS = {"default", "include", "stages", "variables", "workflow", "image", "services", "cache"}
GITLAB_KEYWORDS |= {"before_script", "after_script"}
DAY_3_ROWS = DAY_3_COUNTS


@dataclass(frozen=True)
class Step:
    script: str
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def installs(self) -> bool:
        lines = [line.strip() for line in self.script.strip().splitlines()]
        return bool(lines) and all(INSTALL.match(line) for line in lines)


@dataclass(frozen=True)
class Job:
    recipe: str
    name: str
    env: Mapping[str, str]
    steps: tuple[Step, ...]
    postgres_service: bool  # the job declares a PostgreSQL service container

    @property
    def id(self) -> str:
        return f"{self.recipe.split('.')[0]}:{self.name}"

    def connections(self) -> dict[str, dict[str, Any]]:
        return {k: json.loads(v) for k, v in self.env.items() if k.startswith("AIRFLOW_CONN_")}


def _text(values: Mapping[str, Any] | None) -> dict[str, str]:
    out = {}
    for name, value in (values or {}).items():
        assert isinstance(value, str | int | float), f"variable {name}: only plain values are understood here"
        out[str(name)] = str(value)
    return out


def github(doc: dict[str, Any]) -> list[Job]:
    shell = (doc.get("defaults") or {}).get("run", {}).get("shell")
    jobs = []
    for name, job in doc["jobs"].items():
        job_shell = (job.get("defaults") or {}).get("run", {}).get("shell", shell)
        steps = []
        for step in job["steps"]:
            if "run" in step:
                # Only an explicit `shell: bash` runs with -o pipefail; the default shell does not.
                assert step.get("shell", job_shell) == "bash", f"{name}: give the run steps `shell: bash`"
                steps.append(Step(step["run"], _text(step.get("env"))))
        services = (job.get("services") or {}).values()
        jobs.append(
            Job(
                "github-actions.yml",
                name,
                {**_text(doc.get("env")), **_text(job.get("env"))},
                tuple(steps),
                any("postgres" in str(s.get("image", "")) for s in services),
            )
        )
    return jobs


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """GitLab's ``extends``: mappings merged key by key, anything else replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _extended(doc: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    parents = job.get("extends") or []
    resolved: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved = _merge(resolved, _extended(doc, doc[parent]))
    return _merge(resolved, {k: v for k, v in job.items() if k != "extends"})


def gitlab(doc: dict[str, Any]) -> list[Job]:
    default = doc.get("default") or {}
    jobs = []
    for name, body in doc.items():
        if name in GITLAB_KEYWORDS or name.startswith(".") or not isinstance(body, dict):
            continue
        job = _extended(doc, body)
        entries = [*job.get("before_script", default.get("before_script", [])), *job["script"]]
        services = job.get("services", default.get("services", []))
        names = [s if isinstance(s, str) else s["name"] for s in services]
        jobs.append(
            Job(
                "gitlab-ci.yml",
                name,
                {**_text(doc.get("variables")), **_text(job.get("variables"))},
                tuple(Step(entry) for entry in entries),
                any(n.startswith("postgres") for n in names),
            )
        )
    return jobs


def _azure_variables(values: Mapping[str, Any] | None) -> dict[str, str]:
    # Azure passes each variable to scripts as an environment variable: upper case, dots as underscores.
    return {k.upper().replace(".", "_"): v for k, v in _text(values).items()}


def azure(doc: dict[str, Any]) -> list[Job]:
    containers = {c["container"]: c for c in (doc.get("resources") or {}).get("containers", [])}
    jobs = []
    for job in doc["jobs"]:
        steps = []
        for step in job["steps"]:
            script = step.get("script", step.get("bash"))
            if script is None:
                continue
            if len(script.strip().splitlines()) > 1:  # Azure runs scripts without -e
                assert script.lstrip().startswith("set -euo pipefail"), f"{job['job']}: start with set -euo pipefail"
            steps.append(Step(script, _text(step.get("env"))))
        services = (job.get("services") or {}).values()
        jobs.append(
            Job(
                "azure-pipelines.yml",
                job["job"],
                {**_azure_variables(doc.get("variables")), **_azure_variables(job.get("variables"))},
                tuple(steps),
                any("postgres" in containers[s]["image"] for s in services),
            )
        )
    return jobs


PARSERS: dict[str, Callable[[dict[str, Any]], list[Job]]] = {
    "github-actions.yml": github,
    "gitlab-ci.yml": gitlab,
    "azure-pipelines.yml": azure,
}


def recipe_jobs(recipe: str) -> list[Job]:
    return PARSERS[recipe](yaml.safe_load((CI / recipe).read_text()))


JOBS = [job for recipe in RECIPES for job in recipe_jobs(recipe)]


def test_each_recipe_has_a_job_on_duckdb_and_one_on_a_postgres_service() -> None:
    for recipe in RECIPES:
        kinds = {}
        for job in recipe_jobs(recipe):
            types = {c["conn_type"] for c in job.connections().values()}
            kinds[job.name] = types
            assert ("postgres" in types) == job.postgres_service, f"{job.id}: a PostgreSQL connection needs a service"
            installs = [s for s in job.steps if s.installs]
            assert len(installs) == 1 and PACKAGE in installs[0].script, f"{job.id}: install the package once"
            assert sum("verify-target" in s.script for s in job.steps) == 1, f"{job.id}: end with one verify-target"
        assert any(t == {"duckdb"} for t in kinds.values()), f"{recipe}: no job with the source on DuckDB: {kinds}"
        assert any("postgres" in t for t in kinds.values()), f"{recipe}: no job with the source on PostgreSQL: {kinds}"


def local_environment(job: Job, checkout: Path, database: Callable[[], tuple[PostgresServer, str]]) -> dict[str, str]:
    """The job's environment on this machine: DuckDB files in the checkout, PostgreSQL on the private server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for name, value in job.env.items():
        if name.startswith("AIRFLOW_CONN_"):
            fields = json.loads(value)
            if fields["conn_type"] == "duckdb":
                fields["host"] = str(checkout / Path(fields["host"]).name)
            elif fields["conn_type"] == "postgres":
                server, name_of_database = database()
                fields |= {"host": server.host, "port": server.port, "login": server.user, "schema": name_of_database}
                fields["password"] = server.password
                if not server.password:
                    del fields["password"]
            else:
                pytest.fail(f"{job.id}: {name} has conn_type {fields['conn_type']!r}, which this test cannot map")
            value = json.dumps(fields)
        env[name] = value
    return env


def run_steps(job: Job, checkout: Path, env: Mapping[str, str]) -> Iterable[tuple[Step, str]]:
    """Run the job's steps but the install in order, each in ``bash -euo pipefail``; yields each step's stdout.
    A step that fails fails the test with its script and output."""
    for step in job.steps:
        if step.installs:
            continue
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", step.script],
            cwd=checkout,
            env={**env, **step.env},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, (
            f"{job.id}: step exited {run.returncode}:\n{step.script}\n--- stdout\n{run.stdout[-3000:]}\n"
            f"--- stderr\n{run.stderr[-5000:]}"
        )
        yield step, run.stdout


@pytest.mark.parametrize("job", JOBS, ids=[job.id for job in JOBS])
def test_the_recipe_job_ends_with_a_verified_warehouse(
    job: Job, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(CI, checkout / "docs" / "ci")  # what the recipes run from the repository
    used: list[tuple[PostgresServer, str]] = []

    def database() -> tuple[PostgresServer, str]:
        if not used:
            used.append((request.getfixturevalue("postgres"), request.getfixturevalue("pg_database")))
        return used[0]

    env = local_environment(job, checkout, database)
    outputs = list(run_steps(job, checkout, env))
    assert len(outputs) >= 4, f"{job.id}: ran only {len(outputs)} steps"
    (report_text,) = [out for step, out in outputs if "verify-target" in step.script]
    report = json.loads(report_text)
    assert report["ok"] is True, report["summary"]
    assert (report["day"], report["mode"], report["profile"]) == (3, "replica", "classic")
    assert {name: table["found_rows"] for name, table in report["tables"].items()} == DAY_3_ROWS
    assert all(table["ok"] for table in report["tables"].values())
    saved = checkout / "verify-report.json"  # the artifact the job keeps
    assert json.loads(saved.read_text()) == report
    if job.postgres_service:  # the source really was on PostgreSQL
        import psycopg

        assert used, f"{job.id}: the job has a PostgreSQL service but no connection to it"
        server, name = used[0]
        with psycopg.connect(server.uri(name)) as conn:
            row = conn.execute("SELECT count(*) FROM jaffle_shop.customers").fetchone()
        assert row is not None and row[0] == 175
        assert not (checkout / "source.duckdb").exists()
