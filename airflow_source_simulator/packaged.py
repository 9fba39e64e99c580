"""Read the packaged SQL, manifest and contracts (``sql/`` in the repository, ``airflow_source_simulator/sql``
installed)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

_PACKAGE = "airflow_source_simulator.sql"
SCHEMA_FILE = "schema.sql"
TRUNCATE_FILE = "truncate.sql"
BASELINE_FILE = "baseline.sql"


def day_file(day: int) -> str:
    """The packaged file of a classic day's delta."""
    return f"day_{day:02d}.sql"


def sql_text(platform: str, name: str) -> str:
    """The text of one packaged SQL file of a platform (``schema.sql``, ``day_01.sql``, ...)."""
    return files(_PACKAGE).joinpath(platform, name).read_text(encoding="utf-8")


@cache
def manifest() -> dict[str, Any]:
    return json.loads(files(_PACKAGE).joinpath("manifest.json").read_text(encoding="utf-8"))


@cache
def changes() -> dict[str, Any]:
    """Per profile and day 1-7 (scale 1): the keys each table's rows are inserted, updated, soft- and
    hard-deleted and saved twice under, and the schema changes."""
    return json.loads(files(_PACKAGE).joinpath("changes.json").read_text(encoding="utf-8"))


_ODCS_SUFFIX = ".odcs.yaml"


def _odcs_folder() -> Traversable:
    return files(_PACKAGE).joinpath("contracts", "odcs")


@cache
def contract_names() -> tuple[str, ...]:
    """The packaged ODCS contracts: one per table (``customers``, ...) and one per table a profile's
    schema change alters, for the states after it (``customers.cdc``)."""
    return tuple(
        sorted(p.name.removesuffix(_ODCS_SUFFIX) for p in _odcs_folder().iterdir() if p.name.endswith(_ODCS_SUFFIX))
    )


def contract_file(name: str) -> Traversable:
    """The packaged ODCS document of ``name`` (see ``contract_names()``); a file on disk once installed,
    so its path can be handed to tools such as ``datacontract test``."""
    if name not in contract_names():
        raise ValueError(f"no packaged contract {name!r}; the contracts are: {', '.join(contract_names())}")
    return _odcs_folder().joinpath(name + _ODCS_SUFFIX)


def contract(name: str) -> str:
    """The text of the packaged ODCS v3 document of ``name`` (YAML)."""
    return contract_file(name).read_text(encoding="utf-8")


def dbt_sources() -> str:
    """The text of the packaged dbt ``sources.yml`` for the two schemas."""
    return files(_PACKAGE).joinpath("contracts", "dbt", "sources.yml").read_text(encoding="utf-8")
