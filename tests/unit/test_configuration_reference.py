"""docs/configuration.md against the code, so that nothing goes undocumented and nothing documented is gone.

The page is parsed simply: headings split it into sections (fenced code ignored), and each table's rows are
read by their header's column names. A row's name is its first cell, one name in backticks. Checked:

- the operators: one section per operator, named after it; its arguments are exactly the keyword arguments
  its constructor accepts (over the ``__init__`` of the simulator's own classes in its MRO, without
  ``**kwargs`` and Airflow's ``BaseOperator`` arguments), with their defaults and ``template_fields``;
- the ``SOURCE_SIMULATOR_*`` environment variables named anywhere in the code, the tests, the benchmarks and
  the Makefile;
- the Makefile's targets (not its file and pattern targets);
- the connection types the simulator serves, its form's fields and the connection extras it reads.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from airflow.sdk import BaseOperator

from airflow_source_simulator import operators
from airflow_source_simulator.get_provider_info import CONNECTION_TYPE_INFO, get_provider_info
from airflow_source_simulator.sessions import SESSIONS
from airflow_source_simulator.sessions.databricks import RETRY_BOUNDS
from airflow_source_simulator.sessions.duckdb import STORAGE_SETTING
from airflow_source_simulator.sessions.registry import CONN_TYPE, PLATFORM_FIELD

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "configuration.md"
PACKAGE = "airflow_source_simulator"
WHERE = "docs/configuration.md"

# Section titles (backticks removed, case ignored).
OPERATORS = "operators"
CONNECTIONS = "connections"
ENVIRONMENT = "environment variables"
MAKE_TARGETS = "make targets"

REQUIRED = "*required*"
TEMPLATED = {"yes": True, "no": False}

# Where environment variables are looked for, relative to the repository.
SCANNED = ("airflow_source_simulator", "tests", "benchmarks", "example_dags", "Makefile")
SCANNED_SUFFIXES = {".py", ".sh", ".cfg", ".ini", ".toml", ".yml", ".yaml", ".json", ".txt", ""}
ENV_VARIABLE = re.compile(r"(?<![A-Za-z0-9_])SOURCE_SIMULATOR_[A-Z0-9_]+(?![A-Za-z0-9_])")
# A Makefile rule: names, a colon that is not ``:=``. Recipes (tab), comments and assignments never match.
MAKE_RULE = re.compile(r"^([^\s:#=][^:#=]*?)\s*:(?!=)", re.MULTILINE)
# A connection extra the package reads by its literal key: ``extra.get("http_path")``.
EXTRA_READ = re.compile(r"extra(?:_dejson)?\.get\(\s*[\"']([A-Za-z0-9_]+)[\"']")

NAME = re.compile(r"^`([^`]+)`$")
CODE_SPAN = re.compile(r"`([^`]+)`")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SEPARATOR = re.compile(r"^:?-{3,}:?$")
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


# --- the page ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    level: int
    heading: str  # as written, backticks included
    body: str  # the text up to the next heading of any level

    @property
    def title(self) -> str:
        return self.heading.replace("`", "").strip().lower()


@cache
def page() -> tuple[Section, ...]:
    sections: list[Section] = []
    level, heading = 0, ""
    lines: list[str] = []
    fenced = False
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        found = None if fenced else HEADING.match(line)
        if found:
            sections.append(Section(level, heading, "\n".join(lines)))
            level, heading, lines = len(found.group(1)), found.group(2), []
        else:
            lines.append(line)
    sections.append(Section(level, heading, "\n".join(lines)))
    return tuple(sections[1:])  # the text before the first heading belongs to none


def section(title: str) -> Section:
    matches = [s for s in page() if s.title == title.lower()]
    assert len(matches) == 1, f"{WHERE} must have exactly one heading {title!r}; it has {len(matches)}"
    return matches[0]


def subsections(title: str) -> list[Section]:
    """The sections under the heading ``title``, down to the next heading of its level or above."""
    parent = section(title)
    sections = list(page())
    start = next(i for i, s in enumerate(sections) if s is parent) + 1
    below: list[Section] = []
    for child in sections[start:]:
        if child.level <= parent.level:
            break
        below.append(child)
    return below


def tables(body: str) -> Iterator[list[dict[str, str]]]:
    """Each markdown table in ``body``, as rows keyed by the header's (lower-cased) column names."""
    block: list[list[str]] = []
    for line in [*body.splitlines(), ""]:
        text = line.strip()
        if text.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in UNESCAPED_PIPE.split(text)]
            block.append(cells[1:-1] if text.endswith("|") else cells[1:])
            continue
        if block:
            header, *rows = block
            columns = [c.lower() for c in header]
            yield [
                dict(zip(columns, row, strict=False)) for row in rows if not all(SEPARATOR.match(c) for c in row if c)
            ]
            block = []


def named_rows(body: str, where: str, *columns: str) -> dict[str, dict[str, str]]:
    """The rows of the tables in ``body`` by their name (the first cell, in backticks); every table must have
    ``columns``, and every name must be one name in backticks, listed once."""
    rows: dict[str, dict[str, str]] = {}
    for table in tables(body):
        for row in table:
            missing = [c for c in columns if c not in row]
            assert not missing, f"{WHERE}, {where}: a table lacks the column(s) {missing}: {row}"
            first = next(iter(row.values()))
            name = NAME.match(first)
            assert name, f"{WHERE}, {where}: the first cell must be one name in backticks, not {first!r}"
            assert name.group(1) not in rows, f"{WHERE}, {where}: {name.group(1)!r} is listed twice"
            rows[name.group(1)] = row
    return rows


def code_words(sections: list[Section]) -> set[str]:
    """Every word inside backticks in ``sections`` (headings included): ``settings.x`` gives both names."""
    words: set[str] = set()
    for s in sections:
        for span in CODE_SPAN.findall(f"{s.heading}\n{s.body}"):
            words.update(WORD.findall(span))
            words.add(span)
    return words


# --- the operators -----------------------------------------------------------------------------------------
def operator_classes() -> dict[str, type[BaseOperator]]:
    """The package's public operators: exported from ``operators``, and defined in the provider's operator
    modules."""
    found: dict[str, type[BaseOperator]] = {}
    modules = [m for entry in get_provider_info()["operators"] for m in entry["python-modules"]]
    candidates = [getattr(operators, name) for name in operators.__all__]
    for module_name in modules:
        module = importlib.import_module(module_name)
        candidates += [v for v in vars(module).values() if inspect.isclass(v) and v.__module__ == module.__name__]
    for candidate in candidates:
        if issubclass(candidate, BaseOperator) and not candidate.__name__.startswith("_"):
            found[candidate.__name__] = candidate
    return found


OPERATOR_CLASSES = operator_classes()
BASE_ARGUMENTS = set(inspect.signature(BaseOperator.__init__).parameters)


def constructor_arguments(operator: type[BaseOperator]) -> dict[str, inspect.Parameter]:
    """The keyword arguments the operator accepts over its own classes' ``__init__`` (the most derived
    class's declaration wins), up to Airflow's ``BaseOperator``: no ``**kwargs``, none of BaseOperator's."""
    arguments: dict[str, inspect.Parameter] = {}
    for klass in operator.__mro__:
        if klass is BaseOperator:
            break
        init = vars(klass).get("__init__")
        if init is None or not klass.__module__.startswith(PACKAGE):
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.name == "self" or parameter.name in BASE_ARGUMENTS:
                continue
            if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                arguments.setdefault(parameter.name, parameter)
    return arguments


def documented_arguments(name: str) -> dict[str, dict[str, str]]:
    return named_rows(section(name).body, f"operator {name}", "type", "default", "templated", "meaning")


def test_every_operator_has_a_section_and_every_section_an_operator() -> None:
    documented = {s.heading.replace("`", "").strip() for s in subsections(OPERATORS)}
    missing = sorted(set(OPERATOR_CLASSES) - documented)
    extra = sorted(documented - set(OPERATOR_CLASSES))
    assert not missing, f"operators without a section under 'Operators' in {WHERE}: {missing}"
    assert not extra, f"sections under 'Operators' in {WHERE} that name no operator of the package: {extra}"


@pytest.mark.parametrize("name", sorted(OPERATOR_CLASSES))
def test_the_documented_arguments_are_the_constructors(name: str) -> None:
    accepted = set(constructor_arguments(OPERATOR_CLASSES[name]))
    documented = set(documented_arguments(name))
    missing = sorted(accepted - documented)
    gone = sorted(documented - accepted)
    assert not missing, f"{name} accepts arguments its table in {WHERE} does not list: {missing}"
    assert not gone, f"{name}'s table in {WHERE} lists arguments its constructor does not accept: {gone}"


def documented_default(cell: str) -> object:
    span = NAME.match(cell)
    assert span, f"a default is {REQUIRED} or a Python literal in backticks, not {cell!r}"
    return ast.literal_eval(span.group(1))


def same_default(documented: object, actual: object) -> bool:
    # == lets "classic" equal Profile.CLASSIC (a StrEnum); a bool must not pass for 0 or 1, nor the reverse.
    return documented == actual and isinstance(documented, bool) == isinstance(actual, bool)


@pytest.mark.parametrize("name", sorted(OPERATOR_CLASSES))
def test_the_documented_defaults_are_the_constructors(name: str) -> None:
    arguments = constructor_arguments(OPERATOR_CLASSES[name])
    wrong: list[str] = []
    for argument, row in documented_arguments(name).items():
        parameter = arguments.get(argument)
        if parameter is None:
            continue  # reported by the test of the arguments
        cell = row["default"]
        if parameter.default is inspect.Parameter.empty:
            if cell != REQUIRED:
                wrong.append(f"{argument}: documented {cell}, but it has no default ({REQUIRED})")
        elif cell == REQUIRED:
            wrong.append(f"{argument}: documented {REQUIRED}, but its default is {parameter.default!r}")
        elif not same_default(documented_default(cell), parameter.default):
            wrong.append(f"{argument}: documented {cell}, but its default is {parameter.default!r}")
    assert not wrong, f"{name}'s defaults in {WHERE} differ from the code:\n  " + "\n  ".join(wrong)


@pytest.mark.parametrize("name", sorted(OPERATOR_CLASSES))
def test_templated_is_membership_of_template_fields(name: str) -> None:
    template_fields = set(OPERATOR_CLASSES[name].template_fields)
    wrong: list[str] = []
    for argument, row in documented_arguments(name).items():
        cell = row["templated"].lower()
        if cell not in TEMPLATED:
            wrong.append(f"{argument}: templated is 'yes' or 'no', not {row['templated']!r}")
        elif TEMPLATED[cell] != (argument in template_fields):
            actually = "is" if argument in template_fields else "is not"
            wrong.append(f"{argument}: documented templated={cell}, but it {actually} in template_fields")
    assert not wrong, f"{name}'s 'templated' column in {WHERE} differs from the code:\n  " + "\n  ".join(wrong)


# --- environment variables ---------------------------------------------------------------------------------
def scanned_files() -> Iterator[Path]:
    this = Path(__file__).resolve()
    for name in SCANNED:
        root = REPO / name
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            skipped = "__pycache__" in path.parts or path.suffix not in SCANNED_SUFFIXES or path.resolve() == this
            if path.is_file() and not skipped:
                yield path


def variables_in_code() -> dict[str, list[str]]:
    """Each ``SOURCE_SIMULATOR_*`` name in the scanned files, with the files it is in."""
    found: dict[str, list[str]] = {}
    for path in scanned_files():
        for variable in set(ENV_VARIABLE.findall(path.read_text(encoding="utf-8", errors="replace"))):
            found.setdefault(variable, []).append(str(path.relative_to(REPO)))
    return found


def test_every_environment_variable_is_documented_and_every_documented_one_is_read() -> None:
    in_code = variables_in_code()
    documented = set(named_rows(section(ENVIRONMENT).body, "Environment variables", "read by", "meaning"))
    missing = {v: files for v, files in sorted(in_code.items()) if v not in documented}
    gone = sorted(documented - set(in_code))
    assert not missing, f"environment variables in the code, not under 'Environment variables' in {WHERE}: " + (
        "; ".join(f"{v} (in {', '.join(sorted(files))})" for v, files in missing.items())
    )
    assert not gone, (
        f"environment variables under 'Environment variables' in {WHERE} that no file of {', '.join(SCANNED)} "
        f"names: {gone}"
    )


# --- make targets --------------------------------------------------------------------------------------------
def make_targets() -> set[str]:
    """The Makefile's rule names, without special (``.PHONY``), file (``/``, ``$(``) and pattern targets."""
    targets: set[str] = set()
    for names in MAKE_RULE.findall((REPO / "Makefile").read_text(encoding="utf-8")):
        for name in names.split():
            if not (name.startswith(".") or "/" in name or "$(" in name or "%" in name):
                targets.add(name)
    return targets


def test_every_make_target_is_documented_and_every_documented_one_exists() -> None:
    targets = make_targets()
    documented = set(named_rows(section(MAKE_TARGETS).body, "Make targets", "what it does"))
    missing = sorted(targets - documented)
    gone = sorted(documented - targets)
    assert not missing, f"Makefile targets not under 'Make targets' in {WHERE}: {missing}"
    assert not gone, f"targets under 'Make targets' in {WHERE} that the Makefile does not have: {gone}"


# --- connections ---------------------------------------------------------------------------------------------
def test_every_connection_type_has_a_section_and_every_section_a_type() -> None:
    served = {t for session in SESSIONS for t in session.conn_types} | {CONN_TYPE}
    named = {span for s in subsections(CONNECTIONS) for span in CODE_SPAN.findall(s.heading)}
    missing = sorted(served - named)
    gone = sorted(named - served)
    assert not missing, (
        f"connection types without a section (heading naming it in backticks) under 'Connections' in {WHERE}: {missing}"
    )
    assert not gone, (
        f"sections under 'Connections' in {WHERE} name connection types the simulator does not serve: {gone}"
    )


def extras_read() -> set[str]:
    """The connection extras the package reads: by literal key, and by the constants the sessions use."""
    keys = {PLATFORM_FIELD, f"extra__{CONN_TYPE}__{PLATFORM_FIELD}", STORAGE_SETTING, *RETRY_BOUNDS}
    for path in sorted((REPO / PACKAGE).rglob("*.py")):
        keys.update(EXTRA_READ.findall(path.read_text(encoding="utf-8")))
    return keys


def test_every_extra_the_simulator_reads_is_documented() -> None:
    words = code_words([section(CONNECTIONS), *subsections(CONNECTIONS)])
    missing = sorted(extras_read() - words)
    assert not missing, (
        f"connection extras the simulator reads, not named (in backticks) under 'Connections' in {WHERE}: {missing}"
    )


def test_the_connection_forms_fields_are_documented() -> None:
    ours = [s for s in subsections(CONNECTIONS) if f"`{CONN_TYPE}`" in s.heading]
    assert ours, f"no section for the {CONN_TYPE} connection type under 'Connections' in {WHERE}"
    words = code_words(ours)
    missing = sorted(set(CONNECTION_TYPE_INFO["conn-fields"]) - words)
    assert not missing, f"fields of the {CONN_TYPE} connection form not named in its section in {WHERE}: {missing}"
