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


@dataclass
class Finding:
    """Differences of one kind in one table: how many, a sample, and how many each cause explains."""

    noun: str  # e.g. "rows missing"
    count: int = 0
    sample: list[Any] = field(default_factory=list)
    causes: Counter[Cause] = field(default_factory=Counter)

    @classmethod
    def of(cls, noun: str, keys: Iterable[Any], explain: Callable[[Any], tuple[Cause, str]], sample: int) -> Finding:
        finding = cls(noun)
        for key in keys:
            cause, detail = explain(key)
            finding.count += 1
            finding.causes[cause] += 1
            if len(finding.sample) < sample:
                finding.sample.append({"key": plain(key), "cause": str(cause), "detail": detail})
        return finding

    def line(self, table: str) -> str:
        """``jaffle_crm.web_sessions: 29 rows missing — all late-arriving (…): <fix>``."""
        if len(self.causes) == 1:
            (cause,) = self.causes
            share = "all " if self.count > 1 else ""
            return f"{table}: {self.count} {self.noun} — {share}{ADVICE[cause].what}: {ADVICE[cause].fix}"
        parts = [f"{n} {ADVICE[c].what} ({ADVICE[c].fix})" for c, n in self.causes.most_common()]
        return f"{table}: {self.count} {self.noun} — " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "causes": {str(c): n for c, n in self.causes.items()}, "sample": self.sample}


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

    @property
    def ok(self) -> bool:
        return not (self.missing_columns or self.unexpected_columns or any(f.count for f in self.findings))

    def lines(self) -> list[str]:
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
            return f"✓ The {what} matches the simulated source: {len(self.tables)} tables, {rows:,} rows."
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
