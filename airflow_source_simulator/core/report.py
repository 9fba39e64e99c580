"""What an operation tells its task log: a line per step as it completes, with a rate for long steps,
and the status box, worded like the original's operations guide."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_source_simulator.core.ledger import Operation
from airflow_source_simulator.core.statements import Action, Step
from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR
from airflow_source_simulator.schema import LEDGER_TABLE, TABLES_BY_NAME, SchemaRole

# The status box's rows of tables, per schema (a unit test checks it names every table once).
LAYOUT: dict[SchemaRole, tuple[tuple[str, ...], ...]] = {
    "shop": (("customers", "products", "orders"), ("order_items", "payments")),
    "crm": (("campaigns", "email_activity"), ("web_sessions",)),
}
_PROGRESSIVE = {Action.INSERT: "Inserting", Action.UPDATE: "Updating"}


def _rows(n: int | None) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def step_line(step: Step, schemas: Mapping[SchemaRole, str], loading: bool) -> str:
    table = TABLES_BY_NAME.get(step.target)
    name = f"{schemas[table.role]}.{table.name}" if table else step.target
    if step.action == Action.CREATE_SCHEMA:
        return f"  ✓ Schema {schemas[step.target]} ready"  # type: ignore[index]
    if step.action == Action.CREATE_TABLE:
        return f"  ✓ Table {name if table else schemas['shop'] + '.' + step.target} ready"
    if not step.finished:
        verb = "Loading" if loading and step.action == Action.INSERT else _PROGRESSIVE.get(step.action, step.action)
        of = f"of {_rows(step.rows)}" if step.rows is not None else "rows so far"
        return f"  … {verb} {name}: {step.done} {of}"
    if step.action == Action.INSERT:
        return f"  ✓ {'Loaded' if loading else 'Inserted'} {name} ({_rows(step.rows)})"
    if step.action == Action.UPDATE:
        soft = f", {step.soft_deleted} soft-deleted" if step.soft_deleted else ""
        return f"  ✓ Updated {name} ({_rows(step.rows)}{soft})"
    if step.action == Action.TOUCH:
        return f"  ✓ Saved {name} ({_rows(step.rows)}, a first save: each is updated again below)"
    if step.action == Action.DELETE:
        return f"  ✓ Hard-deleted {name} ({_rows(step.rows)})" if step.rows else f"  ✓ Truncated {name}"
    if step.action == Action.CLEAR:
        return f"  ✓ Cleared the simulator's rows of {name} (rows of your own, IDs from {CUSTOM_ID_FLOOR:,}, kept)"
    if step.action == Action.ADD_COLUMN and step.target.startswith(LEDGER_TABLE):
        return f"  ✓ Ledger column {step.target} added (records which task run wrote each row)"
    if step.action in (Action.ADD_COLUMN, Action.DROP_COLUMN):
        verb = "Added" if step.action == Action.ADD_COLUMN else "Dropped"
        return f"  ✓ {verb} column {step.target} (schema change)"
    if step.action == Action.CDC:
        return f"  ✓ Change capture on for {name}"
    if step.action == Action.LEDGER:
        return f"  ✓ Ledger: {step.target} recorded at day {step.rows}"
    return f"  ✓ {step.action} {name}"


class Progress:
    """The log lines of one operation's steps: a step of several statements reports its rate as it goes."""

    def __init__(self, schemas: Mapping[SchemaRole, str], loading: bool) -> None:
        self.schemas = schemas
        self.loading = loading
        self.started = time.perf_counter()
        self._step_started: dict[tuple[str, str], float] = {}

    def line(self, step: Step) -> str:
        line = step_line(step, self.schemas, self.loading)
        if step.done is not None and (step.rows or not step.finished):
            first = self._step_started.setdefault((step.action, step.target), self.started)
            rate = step.done / max(time.perf_counter() - first, 1e-9)
            line += f" ({rate / 1e6:.2f} M rows/s)" if rate >= 1e5 else f" ({rate:,.0f} rows/s)"
            if step.finished:
                self._step_started.pop((step.action, step.target), None)
        else:
            self._step_started.clear()
        return line

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def status_box(status: Mapping[str, Any], schemas: Mapping[SchemaRole, str]) -> str:
    day = status["day"]
    title = "not loaded" if day is None else f"day {day} ({status['profile']}, scale {status['scale']})"
    head = f"═══ Source Simulator Status: {title} ═══"
    lines = [head]
    counts = status["tables"]
    for role, rows in LAYOUT.items():
        lines.append(f"{schemas[role]}:")
        for row in rows:
            cells = []
            for table in row:
                count = counts[f"{schemas[role]}.{table}"]
                cells.append(f"{table}: {'-' if count is None else count}")
            lines.append("  " + " | ".join(cells))
    lines.append("═" * len(head))
    return "\n".join(lines)


# Steps that write a table's rows: their rows count as written (a touch is a first save, updated again later).
_WRITES = (Action.INSERT, Action.UPDATE, Action.TOUCH, Action.DELETE)


@dataclass
class Written:
    """What one operation wrote, from its finished steps: its ledger record (None when it changed nothing),
    the rows each table had written (inserted, updated or deleted), and the columns it added (table.column).
    Lineage reports it."""

    operation: Operation | None = None
    rows: dict[str, int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)

    def record(self, step: Step) -> None:
        if not step.finished:
            return
        if step.action in _WRITES and step.target in TABLES_BY_NAME and step.rows:
            self.rows[step.target] = self.rows.get(step.target, 0) + step.rows
        elif step.action == Action.ADD_COLUMN and not step.target.startswith(LEDGER_TABLE):
            self.columns.append(step.target)
        elif step.action == Action.LEDGER:
            self.operation = Operation(step.target)
