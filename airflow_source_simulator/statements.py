"""Packaged SQL as a list of annotated statements, and the file format that carries them.

A file is a header of comments, then statements each led by a ``-- step: ACTION TABLE [ROWS [SOFT]]``
line, so the simulator can log what each statement did as it completes. Schema names are the
placeholders ``{{ shop_schema }}`` and ``{{ crm_schema }}``, replaced by quoted identifiers at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

SHOP_PLACEHOLDER = "{{ shop_schema }}"
CRM_PLACEHOLDER = "{{ crm_schema }}"
PLACEHOLDERS = {"shop": SHOP_PLACEHOLDER, "crm": CRM_PLACEHOLDER}
STEP_PREFIX = "-- step: "


@dataclass(frozen=True)
class Step:
    action: str  # create_schema, create_table, insert, update, delete, ledger
    target: str  # a table name, or a schema role for create_schema
    rows: int | None = None
    soft_deleted: int | None = None

    def annotation(self) -> str:
        parts = [self.action, self.target]
        if self.rows is not None:
            parts.append(str(self.rows))
        if self.soft_deleted:
            parts.append(str(self.soft_deleted))
        return STEP_PREFIX + " ".join(parts)

    @classmethod
    def parse(cls, line: str) -> Step:
        action, target, *numbers = line[len(STEP_PREFIX) :].split()
        rows = int(numbers[0]) if numbers else None
        soft = int(numbers[1]) if len(numbers) > 1 else None
        return cls(action, target, rows, soft)


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
