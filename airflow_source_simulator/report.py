"""The status box and the log line of each step, worded like the original's operations guide."""

from __future__ import annotations

from typing import Any

from airflow_source_simulator.schema import TABLES, TABLES_BY_NAME
from airflow_source_simulator.statements import Step

_LAYOUT = {
    "shop": (("customers", "products", "orders"), ("order_items", "payments")),
    "crm": (("campaigns", "email_activity"), ("web_sessions",)),
}


_PROGRESSIVE = {"insert": "Inserting", "update": "Updating"}


def _rows(n: int | None) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def step_line(step: Step, schemas: dict[str, str], loading: bool) -> str:
    table = TABLES_BY_NAME.get(step.target)
    name = f"{schemas[table.role]}.{table.name}" if table else step.target
    if step.action == "create_schema":
        return f"  ✓ Schema {schemas[step.target]} ready"
    if step.action == "create_table":
        return f"  ✓ Table {name if table else schemas['shop'] + '.' + step.target} ready"
    if not step.finished:
        verb = "Loading" if loading and step.action == "insert" else _PROGRESSIVE.get(step.action, step.action)
        return f"  … {verb} {name}: {step.done} of {_rows(step.rows)}"
    if step.action == "insert":
        return f"  ✓ {'Loaded' if loading else 'Inserted'} {name} ({_rows(step.rows)})"
    if step.action == "update":
        soft = f", {step.soft_deleted} soft-deleted" if step.soft_deleted else ""
        return f"  ✓ Updated {name} ({_rows(step.rows)}{soft})"
    if step.action == "touch":
        return f"  ✓ Saved {name} ({_rows(step.rows)}, a first save: each is updated again below)"
    if step.action == "delete":
        return f"  ✓ Hard-deleted {name} ({_rows(step.rows)})" if step.rows else f"  ✓ Truncated {name}"
    if step.action in ("add_column", "drop_column"):
        verb = "Added" if step.action == "add_column" else "Dropped"
        return f"  ✓ {verb} column {step.target} (schema change)"
    if step.action == "cdc":
        return f"  ✓ Change capture on for {name}"
    if step.action == "ledger":
        return f"  ✓ Ledger: {step.target} recorded at day {step.rows}"
    return f"  ✓ {step.action} {name}"


def status_box(status: dict[str, Any], schemas: dict[str, str]) -> str:
    day = status["day"]
    title = "not loaded" if day is None else f"day {day} ({status['scenario']}, scale {status['scale']})"
    head = f"═══ Source Simulator Status: {title} ═══"
    lines = [head]
    counts = status["tables"]
    for role, rows in _LAYOUT.items():
        lines.append(f"{schemas[role]}:")
        for row in rows:
            cells = []
            for table in row:
                count = counts[f"{schemas[role]}.{table}"]
                cells.append(f"{table}: {'-' if count is None else count}")
            lines.append("  " + " | ".join(cells))
    lines.append("═" * len(head))
    return "\n".join(lines)


assert {t for rows in _LAYOUT.values() for row in rows for t in row} == {t.name for t in TABLES}
