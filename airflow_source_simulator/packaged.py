"""Read the packaged SQL and manifest (``sql/`` in the repository, ``airflow_source_simulator/sql`` installed)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from airflow_source_simulator.statements import Statement, parse_file

_PACKAGE = "airflow_source_simulator.sql"


@cache
def statements(platform: str, name: str) -> tuple[Statement, ...]:
    return tuple(parse_file(files(_PACKAGE).joinpath(platform, name).read_text(encoding="utf-8")))


@cache
def manifest() -> dict[str, Any]:
    return json.loads(files(_PACKAGE).joinpath("manifest.json").read_text(encoding="utf-8"))


@cache
def changes() -> dict[str, Any]:
    """Per profile and day 1-7 (scale 1): the keys each table's rows are inserted, updated, soft- and
    hard-deleted and saved twice under, and the schema changes."""
    return json.loads(files(_PACKAGE).joinpath("changes.json").read_text(encoding="utf-8"))
