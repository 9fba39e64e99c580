"""The report of a target check: per table, what is missing, unexpected or different, with the simulated cause
of each, a sample of keys, and diagnosis lines for the task log."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from airflow_source_simulator.oracle.diagnose import ADVICE, Cause


def plain(value: Any) -> Any:
    """A value as JSON holds it (XCom): timestamps and dates as ISO text, decimals as text, tuples as lists."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def counted(count: int, plural: str, singular: str) -> str:
    """``1 row missing``, ``2 rows missing``."""
    return f"{count:,} {singular if count == 1 else plural}"


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else ("NULL" if value is None else str(plain(value)))


@dataclass
class Finding:
    """Differences of one kind in one table: how many, a sample, and how many each cause explains."""

    noun: str  # e.g. "rows missing" (the report's key)
    singular: str = ""  # e.g. "row missing"; the plural noun when empty
    count: int = 0
    sample: list[Any] = field(default_factory=list)
    causes: Counter[Cause] = field(default_factory=Counter)
    columns: Counter[str] = field(default_factory=Counter)  # differing rows: how many differ in each column
    details: dict[Cause, str] = field(default_factory=dict)  # a cause's evidence for the whole table

    @classmethod
    def of(
        cls,
        noun: str,
        singular: str,
        keys: Iterable[Any],
        explain: Callable[[Any], tuple[Cause, str]],
        sample: int,
    ) -> Finding:
        finding = cls(noun, singular)
        for key in keys:
            cause, detail = explain(key)
            finding.add(cause, {"key": plain(key), "cause": str(cause), "detail": detail}, sample)
        return finding

    def add(self, cause: Cause, entry: dict[str, Any], sample: int) -> None:
        """Count one difference of ``cause``; ``entry`` joins the sample while it has room."""
        self.count += 1
        self.causes[cause] += 1
        if len(self.sample) < sample:
            self.sample.append(entry)

    def _head(self, table: str) -> str:
        if not self.columns:
            return f"{table}: {counted(self.count, self.noun, self.singular or self.noun)}"
        names = [c for c, _ in self.columns.most_common()]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        verb = "differs" if self.count == 1 else "differ"
        head = f"{table}: {counted(self.count, self.noun.split()[0], self.singular.split()[0])} {verb} in {shown}"
        example = next((s for s in self.sample if names[0] in s.get("columns", {})), None)
        if example is not None:
            values = example["columns"][names[0]]
            head += (
                f" (e.g. key {example['key']}: {names[0]} expected {_shown(values['expected'])}, "
                f"found {_shown(values['found'])})"
            )
        return head

    def _cause(self, cause: Cause) -> str:
        detail = self.details.get(cause)
        return ADVICE[cause].what + (f" ({detail})" if detail else "")

    def line(self, table: str) -> str:
        """``jaffle_crm.web_sessions: 29 rows missing — all late-arriving (…): <fix>``; a differing finding
        names its columns and one example, expected against found."""
        if len(self.causes) == 1:
            (cause,) = self.causes
            share = "all " if self.count > 1 else ""
            return f"{self._head(table)} — {share}{self._cause(cause)}: {ADVICE[cause].fix}"
        parts = [f"{n:,} {self._cause(c)} ({ADVICE[c].fix})" for c, n in self.causes.most_common()]
        return f"{self._head(table)} — " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out = {"count": self.count, "causes": {str(c): n for c, n in self.causes.items()}, "sample": self.sample}
        if self.columns:
            out["columns"] = dict(self.columns.most_common())
        return out


@dataclass
class TableReport:
    table: str  # the source table, schema-qualified
    target: str  # the target table, schema-qualified
    expected_rows: int
    found_rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    unexpected_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    custom_rows: int = 0
    notes: list[str] = field(default_factory=list)  # table-level problems (a missing column and its cause)
    absent: bool = False  # the target has no such table (fine while the truth has no row: loaders skip those)

    @property
    def ok(self) -> bool:
        if self.absent:
            return self.expected_rows == 0
        return not (self.missing_columns or self.unexpected_columns or any(f.count for f in self.findings))

    def lines(self) -> list[str]:
        if self.absent:
            return (
                []
                if self.ok
                else [
                    f"{self.table}: the target has no table {self.target} "
                    f"({counted(self.expected_rows, 'rows', 'row')} expected)"
                ]
            )
        out = list(self.notes)
        if self.unexpected_columns:
            out.append(
                f"{self.table}: the target has columns the source does not: {', '.join(self.unexpected_columns)} "
                "(the loader's own? name them in ignore_columns)"
            )
        out += [f.line(self.table) for f in self.findings if f.count]
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "ok": self.ok,
            "expected_rows": self.expected_rows,
            "found_rows": self.found_rows,
            "absent": self.absent,
            "columns": {
                "missing": self.missing_columns,
                "unexpected": self.unexpected_columns,
                "ignored": self.ignored_columns,
            },
        }
        out |= {f.noun.replace(" ", "_"): f.to_dict() for f in self.findings}
        if self.custom_rows:
            out["custom_rows"] = self.custom_rows
        out["diagnosis"] = self.lines()
        return out


@dataclass
class Report:
    """The whole check: ``ok`` when every table of the target equals its truth."""

    mode: str
    day: int
    scale: int
    profile: str
    tables: list[TableReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    def lines(self) -> list[str]:
        return [line for t in self.tables for line in t.lines()]

    def failure(self) -> str:
        """The message of a check that failed: the summary, then each table's line."""
        return self.summary() + "\n  " + "\n  ".join(self.lines())

    def summary(self) -> str:
        what = f"{self.mode} target at day {self.day} ({self.profile}, scale {self.scale})"
        if self.ok:
            rows = sum(t.found_rows for t in self.tables)
            tables = counted(len(self.tables), "tables", "table")
            return f"✓ The {what} matches the simulated source: {tables}, {counted(rows, 'rows', 'row')}."
        bad = [t.table for t in self.tables if not t.ok]
        return (
            f"✗ The {what} differs from the simulated source in {len(bad)} of {len(self.tables)} tables: "
            + ", ".join(bad)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "mode": self.mode,
            "day": self.day,
            "scale": self.scale,
            "profile": self.profile,
            "summary": self.summary(),
            "tables": {t.table: t.to_dict() for t in self.tables},
        }
