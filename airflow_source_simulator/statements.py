"""Packaged SQL as a list of annotated statements, and the file format that carries them.

A file is a header of comments, then statements each led by a step line such as
``-- step: insert orders rows=1200 done=1000``, so the simulator can log what each statement did
as it completes. Schema names are the placeholders ``{{ shop_schema }}`` and ``{{ crm_schema }}``,
replaced by quoted identifiers at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airflow_source_simulator.schema import Table

SHOP_PLACEHOLDER = "{{ shop_schema }}"
CRM_PLACEHOLDER = "{{ crm_schema }}"
PLACEHOLDERS = {"shop": SHOP_PLACEHOLDER, "crm": CRM_PLACEHOLDER}
STEP_PREFIX = "-- step: "


@dataclass(frozen=True)
class Step:
    action: str  # create_schema, create_table, insert, update, delete, ledger, cdc
    target: str  # a table name, or a schema role for create_schema
    rows: int | None = None  # rows of the whole step (all its statements)
    soft_deleted: int | None = None
    done: int | None = None  # rows done once this statement completes, when a step takes several

    @property
    def finished(self) -> bool:
        return self.done is None or self.rows is None or self.done >= self.rows

    def annotation(self) -> str:
        parts = [self.action, self.target]
        for name in ("rows", "soft_deleted", "done"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={value}")
        return STEP_PREFIX + " ".join(parts)

    @classmethod
    def parse(cls, line: str) -> Step:
        action, target, *fields = line[len(STEP_PREFIX) :].split()
        numbers = {name: int(value) for name, value in (field.split("=", 1) for field in fields)}
        return cls(action, target, **numbers)


@dataclass(frozen=True)
class Statement:
    sql: str
    step: Step

    def with_schemas(self, shop: str, crm: str) -> Statement:
        """Substitute the (already quoted) schema identifiers for the placeholders."""
        return Statement(self.sql.replace(SHOP_PLACEHOLDER, shop).replace(CRM_PLACEHOLDER, crm), self.step)


def format_file(header: list[str], statements: list[Statement]) -> str:
    lines = [f"-- {h}" for h in header]
    for statement in statements:
        lines += ["", statement.step.annotation(), statement.sql + ";"]
    return "\n".join(lines) + "\n"


def parse_file(text: str) -> list[Statement]:
    statements: list[Statement] = []
    step: Step | None = None
    body: list[str] = []

    def flush() -> None:
        if step is not None:
            sql = "\n".join(body).strip()
            statements.append(Statement(sql[:-1] if sql.endswith(";") else sql, step))

    for line in text.split("\n"):
        if line.startswith(STEP_PREFIX):
            flush()
            step, body = Step.parse(line), []
        elif step is not None:
            body.append(line)
    flush()
    return statements


@dataclass(frozen=True, eq=False)
class Rows:
    """Generated rows for one table, loaded in bulk where the platform can (Arrow, COPY) and as
    batched statements elsewhere.

    ``action`` is ``load`` (the rows of a state, into emptied tables), ``insert``, ``update``, ``touch``
    (an update that an ``update`` of the same rows follows the same day) or ``delete`` (hard, by key).
    """

    action: str
    table: Table
    ref: str  # the quoted schema-qualified table
    columns: dict[str, np.ndarray]
    soft_deleted: int | None = None

    def __len__(self) -> int:
        return len(self.columns[self.table.key])


Work = Statement | Rows
