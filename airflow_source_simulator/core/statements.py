"""The work of an operation: annotated statements and generated rows, and the file format of packaged SQL.

A file is a header of comments, then statements each led by a step line such as
``-- step: insert orders rows=1200 done=1000``, so the simulator can log what each statement did
as it completes. Schema names are the placeholders ``{{ shop_schema }}`` and ``{{ crm_schema }}``,
replaced by quoted identifiers at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import numpy as np

from airflow_source_simulator import packaged
from airflow_source_simulator.schema import SchemaRole, Table

SHOP_PLACEHOLDER = "{{ shop_schema }}"
CRM_PLACEHOLDER = "{{ crm_schema }}"
PLACEHOLDERS: dict[SchemaRole, str] = {"shop": SHOP_PLACEHOLDER, "crm": CRM_PLACEHOLDER}
STEP_PREFIX = "-- step: "


class Action(StrEnum):
    """What a step does; its value is the word packaged files carry in their step lines."""

    CREATE_SCHEMA = "create_schema"  # target: a schema role
    CREATE_TABLE = "create_table"
    LOAD = "load"  # generated rows of a state into emptied tables (reported as insert)
    INSERT = "insert"
    UPDATE = "update"
    TOUCH = "touch"  # a first save of rows that an update of the same day saves again
    DELETE = "delete"  # hard delete by key, or all rows when the step has no row count
    CLEAR = "clear"  # delete the simulator's rows of a table, keeping rows of the user's own (IDs from the floor)
    ADD_COLUMN = "add_column"  # target: table.column
    DROP_COLUMN = "drop_column"
    CDC = "cdc"  # target: what change capture was switched on for
    LEDGER = "ledger"  # target: the operation recorded; rows: its day


@dataclass(frozen=True)
class Step:
    action: Action
    target: str  # a table name, a schema role, table.column or an operation: see Action
    rows: int | None = None  # rows of the whole step (all its statements)
    soft_deleted: int | None = None
    done: int | None = None  # rows done once this statement completes, when a step takes several

    @property
    def finished(self) -> bool:
        """A step of several statements reports ``done`` as it goes; without ``rows`` (a stream whose total is
        known only at its end) it is finished only when ``done`` is not given."""
        return self.done is None or (self.rows is not None and self.done >= self.rows)

    def annotation(self) -> str:
        parts = [str(self.action), self.target]
        for name in ("rows", "soft_deleted", "done"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={value}")
        return STEP_PREFIX + " ".join(parts)

    @classmethod
    def parse(cls, line: str) -> Step:
        action, target, *fields = line[len(STEP_PREFIX) :].split()
        numbers = {name: int(value) for name, value in (field.split("=", 1) for field in fields)}
        return cls(Action(action), target, **numbers)


@dataclass(frozen=True)
class Statement:
    sql: str
    step: Step
    # A statement that writes several kinds of change at once (Databricks' one MERGE per table and day) reports
    # each kind's step when it completes.
    further_steps: tuple[Step, ...] = ()

    @property
    def steps(self) -> tuple[Step, ...]:
        return (self.step, *self.further_steps)

    def with_schemas(self, shop: str, crm: str) -> Statement:
        """Substitute the (already quoted) schema identifiers for the placeholders."""
        sql = self.sql.replace(SHOP_PLACEHOLDER, shop).replace(CRM_PLACEHOLDER, crm)
        return Statement(sql, self.step, self.further_steps)


def format_file(header: list[str], statements: list[Statement]) -> str:
    lines = [f"-- {h}" for h in header]
    for statement in statements:
        lines += ["", *(step.annotation() for step in statement.steps), statement.sql + ";"]
    return "\n".join(lines) + "\n"


def parse_file(text: str) -> list[Statement]:
    """The statements of a packaged file; step lines in a row all belong to the statement after them."""
    statements: list[Statement] = []
    steps: list[Step] = []
    body: list[str] = []

    def flush() -> None:
        if steps:
            sql = "\n".join(body).strip()
            statements.append(Statement(sql[:-1] if sql.endswith(";") else sql, steps[0], tuple(steps[1:])))

    for line in text.split("\n"):
        if line.startswith(STEP_PREFIX):
            if any(b.strip() for b in body):
                flush()
                steps, body = [], []
            steps.append(Step.parse(line))
        elif steps:
            body.append(line)
    flush()
    return statements


@cache
def packaged_statements(platform: str, name: str) -> tuple[Statement, ...]:
    """The statements of one packaged SQL file of a platform, with their schema placeholders."""
    return tuple(parse_file(packaged.sql_text(platform, name)))


@dataclass(frozen=True, eq=False)
class Rows:
    """Generated rows for one table, loaded in bulk where the session can (Arrow, COPY) and as batched
    statements elsewhere. ``action`` is LOAD, INSERT, UPDATE, TOUCH or DELETE (hard, by key)."""

    action: Action
    table: Table
    ref: str  # the quoted schema-qualified table
    columns: dict[str, np.ndarray]
    soft_deleted: int | None = None

    def __len__(self) -> int:
        return len(self.columns[self.table.key])


@dataclass(frozen=True, eq=False)
class Stream:
    """Generated rows of one table that arrive chunk by chunk while the work runs (a state or a day's changes
    by key range), so a state of any size is loaded in bounded memory. ``chunks()`` yields each chunk's
    ``Rows``, in the order they apply."""

    table: Table
    chunks: Callable[[], Iterator[Rows]]
    parts: int = 1  # the key ranges it is generated in: 1 when the state is generated whole
    inserts: bool = True  # whether it may insert rows (a day's changes of a table that gains none do not)


Work = Statement | Rows | Stream
