"""A dbt ``sources.yml`` for the two simulated schemas, with tests and freshness.

Pure functions: nothing is read or written, and the text depends on its arguments only.
"""

from __future__ import annotations

from typing import Any

from airflow_source_simulator.contracts.text import (
    DAY_ONE,
    DEFAULT_SCHEMAS,
    GENERATED_NOTE,
    SYSTEMS,
    TABLE_DESCRIPTIONS,
    column_description,
    header,
    profile_changes,
    to_yaml,
)
from airflow_source_simulator.schema import TABLES, Column, SchemaRole, Table

DBT_SCHEMA_VARS: dict[SchemaRole, str] = {role: f"{name}_schema" for role, name in DEFAULT_SCHEMAS.items()}

# dbt compares each table's newest updated_at with the warehouse's clock. The thresholds hold in
# simulated time (see DBT_FRESHNESS_NOTE); dbt vars change them without editing the file.
FRESHNESS_WARN_HOURS = 24
FRESHNESS_ERROR_HOURS = 48
DBT_FRESHNESS_VARS = {
    "warn_after": ("source_simulator_freshness_warn_hours", FRESHNESS_WARN_HOURS),
    "error_after": ("source_simulator_freshness_error_hours", FRESHNESS_ERROR_HOURS),
}
# Tables that do not change every simulated day have no freshness to expect (dbt's `freshness: null`).
NOT_CHANGED_DAILY: dict[str, str] = {
    "products": "No freshness is expected: products change only on repricing days.",
    "campaigns": "No freshness is expected: campaigns change only when a wave is set up.",
}
DBT_FRESHNESS_NOTE = (
    "Freshness: loaded_at_field is updated_at, and every simulated day inserts or updates rows of each table "
    f"but {' and '.join(sorted(NOT_CHANGED_DAILY))} (which have no freshness) with times on that day, so right "
    "after day N is applied each table's newest updated_at lies on day N, less than "
    f"{FRESHNESS_WARN_HOURS} hours before its end. The thresholds ({FRESHNESS_WARN_HOURS} h warn, "
    f"{FRESHNESS_ERROR_HOURS} h error) hold in that simulated time. dbt source freshness compares with the "
    f"warehouse's real clock instead, and the simulated calendar is fixed (day 1 is {DAY_ONE}), so there it "
    "reports ERROR STALE: useful to exercise a pipeline's stale-source handling, not as a health check. The "
    f"dbt vars {DBT_FRESHNESS_VARS['warn_after'][0]} and {DBT_FRESHNESS_VARS['error_after'][0]} set the "
    "thresholds."
)


def _jinja_var(name: str, default: str | int) -> str:
    """A dbt Jinja expression: the var's value, else the default (dbt renders an int as an int)."""
    literal = f'"{default}"' if isinstance(default, str) else str(default)
    return f'{{{{ var("{name}", {literal}) }}}}'


def _dbt_column(table: Table, column: Column, present_in_every_state: bool) -> dict[str, Any]:
    description = column_description(table.name, column.name)
    out: dict[str, Any] = {"name": column.name, "description": description}
    # A test on a column that only some states have would fail on the others: such columns are
    # documented without tests.
    tests = []
    if present_in_every_state and column.name == table.key:
        tests.append("unique")
    if present_in_every_state and not column.nullable:
        tests.append("not_null")
    if tests:
        out["data_tests"] = tests
    return out


def dbt_sources(version: str) -> dict[str, Any]:
    """The dbt sources of both schemas, as plain data in the order it is written.

    A table lists its base columns, then the columns a profile's schema change adds (documented,
    untested: dbt does not require a documented column to exist).
    """
    added = {after.name: [c for c in after.columns if c not in before.columns] for before, after in profile_changes()}
    sources = []
    for role, schema in DEFAULT_SCHEMAS.items():
        tables = []
        for table in (t for t in TABLES if t.role == role):
            columns = [_dbt_column(table, c, True) for c in table.columns]
            columns += [_dbt_column(table, c, False) for c in added.get(table.name, [])]
            entry: dict[str, Any] = {"name": table.name, "description": TABLE_DESCRIPTIONS[table.name]}
            if table.name in NOT_CHANGED_DAILY:
                entry["description"] += " " + NOT_CHANGED_DAILY[table.name]
                entry["freshness"] = None
            tables.append(entry | {"columns": columns})
        sources.append(
            {
                "name": schema,
                "description": f"{SYSTEMS[role][0].upper()}{SYSTEMS[role][1:]}, simulated by "
                f"airflow-source-simulator {version}. The schema is the dbt var {DBT_SCHEMA_VARS[role]} "
                f"(default {schema}), the simulator's {role}_schema. {DBT_FRESHNESS_NOTE}",
                "schema": _jinja_var(DBT_SCHEMA_VARS[role], schema),
                "loaded_at_field": "updated_at",
                "freshness": {
                    after: {"count": _jinja_var(name, hours), "period": "hour"}
                    for after, (name, hours) in DBT_FRESHNESS_VARS.items()
                },
                "tables": tables,
            }
        )
    return {"version": 2, "sources": sources}


def dbt_sources_yaml(version: str) -> str:
    notes = header(
        GENERATED_NOTE,
        "",
        "dbt sources of the simulated jaffle_shop and jaffle_crm schemas. Set the schemas with",
        f"`--vars '{{{DBT_SCHEMA_VARS['shop']}: ..., {DBT_SCHEMA_VARS['crm']}: ...}}'` when the simulator uses other names.",
        "",
        *_wrap(DBT_FRESHNESS_NOTE),
    )
    return notes + to_yaml(dbt_sources(version))


def _wrap(text: str, width: int = 100) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
