"""Values a pipeline changed the same way in a whole column: a time-zone shift, NULL stored as empty text, text
cut to the column's width, numbers or timestamps stored with less precision.

A pattern is named only on the evidence of the column's differing values: a shift must be the same constant
offset (a whole number of quarter hours, at most 14 h, as time zones are) in at least half of the column's
differing rows, and in two rows or more; text must be cut to one same length. A row is put down to a pattern
only when the pattern explains every column it differs in; anything else is left to the other causes.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from airflow_source_simulator.oracle.causes import Cause
from airflow_source_simulator.schema import Table

CAUSES = frozenset({Cause.TIME_ZONE, Cause.NULL_AS_EMPTY, Cause.TRUNCATED, Cause.NARROWED})  # what patterns name
_QUARTER_HOUR = dt.timedelta(minutes=15)
_WIDEST_ZONE = dt.timedelta(hours=14)  # UTC+14 (Kiribati) and UTC-12 are the extremes of real time zones


@dataclass(frozen=True)
class Pattern:
    """One column's values all changed one way: the cause, and the evidence in the log's words."""

    cause: Cause
    column: str
    verb: tuple[str, str]  # what the column's values are, said of one column and of several: ("is", "are")
    evidence: str  # e.g. "9 h ahead in every differing row: a time-zone conversion"
    offset: dt.timedelta | None = None  # a shift: found - expected
    width: int | None = None  # cut text: the length every cut value has

    @property
    def detail(self) -> str:
        """``updated_at is 9 h ahead in every differing row: a time-zone conversion``."""
        return f"{self.column} {self.verb[0]} {self.evidence}"

    def explains(self, expected: Any, found: Any) -> bool:
        """Whether this pattern turns ``expected`` into ``found``."""
        if self.cause == Cause.TIME_ZONE:
            return _stamps(expected, found) and found - expected == self.offset
        if self.cause == Cause.TRUNCATED:
            return _cut(expected, found) and len(found) == self.width
        if self.cause == Cause.NULL_AS_EMPTY:
            return expected is None and found == ""
        return _narrowed(expected, found)


def _stamps(expected: Any, found: Any) -> bool:
    return isinstance(expected, dt.datetime) and isinstance(found, dt.datetime)


def _cut(expected: Any, found: Any) -> bool:
    return (
        isinstance(expected, str)
        and isinstance(found, str)
        and found != ""
        and expected.startswith(found)
        and (len(found) < len(expected))
    )


def _narrowed(expected: Any, found: Any) -> bool:
    """A decimal without its fraction, or a timestamp without its time of day, minutes or seconds."""
    if isinstance(expected, Decimal) and isinstance(found, Decimal | int) and not isinstance(found, bool):
        return Decimal(found) == Decimal(found).to_integral_value() and abs(expected - Decimal(found)) < 1
    if _stamps(expected, found):
        return found != expected and any(
            found == expected.replace(**{**dict.fromkeys(parts, 0), "microsecond": 0})
            for parts in (("second",), ("minute", "second"), ("hour", "minute", "second"))
        )
    if isinstance(expected, dt.datetime) and type(found) is dt.date:
        return found == expected.date()
    return False


def _hours(offset: dt.timedelta) -> str:
    minutes = abs(int(offset.total_seconds())) // 60
    text = f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")
    return f"{text} {'ahead' if offset > dt.timedelta(0) else 'behind'}"


def _share(matched: int, total: int) -> str:
    return "every differing row" if matched == total else f"{matched} of {total} differing rows"


def find(table: Table, differing: Mapping[Any, Mapping[str, tuple[Any, Any]]]) -> dict[str, Pattern]:
    """The pattern of each column of ``table`` whose differing values show one (column -> pattern)."""
    kinds = {c.name: c.type for c in table.columns}
    pairs: dict[str, list[tuple[Any, Any]]] = {}
    for columns in differing.values():
        for name, pair in columns.items():
            if name in kinds:
                pairs.setdefault(name, []).append(pair)
    out = {}
    for name, values in pairs.items():
        pattern = _timestamp(name, values) if kinds[name] == "timestamp" else None
        pattern = pattern or (_text(name, values) if kinds[name] == "varchar" else None)
        if pattern is None:
            narrowed = sum(_narrowed(e, f) for e, f in values)
            if narrowed:
                what = "without its fraction" if kinds[name] == "decimal" else "with less precision"
                pattern = Pattern(
                    Cause.NARROWED, name, ("is", "are"), f"stored {what} in {_share(narrowed, len(values))}"
                )
        if pattern is not None:
            out[name] = pattern
    # A column that differs in too few rows to show a shift of its own (one soft-deleted row's deleted_at)
    # takes the shift its table's other timestamp columns show, where that offset explains it.
    shifts = Counter(p.offset for p in out.values() if p.offset is not None)
    offset = shifts.most_common(1)[0][0] if shifts else None
    if offset is not None:
        for name, values in pairs.items():
            if name in out or kinds[name] != "timestamp":
                continue
            matched = sum(_stamps(e, f) and f - e == offset for e, f in values)
            if matched and 2 * matched >= len(values):
                out[name] = _shift(name, offset, matched, len(values))
    return out


def _timestamp(name: str, values: list[tuple[Any, Any]]) -> Pattern | None:
    offsets = Counter(f - e for e, f in values if _stamps(e, f) and f != e)
    if not offsets:
        return None
    offset, matched = offsets.most_common(1)[0]
    if matched < 2 or 2 * matched < len(values) or offset % _QUARTER_HOUR or abs(offset) > _WIDEST_ZONE:
        return None
    return _shift(name, offset, matched, len(values))


def _shift(name: str, offset: dt.timedelta, matched: int, total: int) -> Pattern:
    """A time-zone shift of ``offset`` seen in ``matched`` of the column's ``total`` differing rows."""
    evidence = f"{_hours(offset)} in {_share(matched, total)}: a time-zone conversion"
    return Pattern(Cause.TIME_ZONE, name, ("is", "are"), evidence, offset=offset)


def _text(name: str, values: list[tuple[Any, Any]]) -> Pattern | None:
    empty = sum(e is None and f == "" for e, f in values)
    if empty:
        evidence = f"'' where the source has NULL, in {_share(empty, len(values))}"
        return Pattern(Cause.NULL_AS_EMPTY, name, ("holds", "hold"), evidence)
    widths = {len(f) for e, f in values if _cut(e, f)}
    if len(widths) == 1:
        (width,) = widths
        cut = sum(_cut(e, f) for e, f in values)
        evidence = f"cut to {width} characters in {_share(cut, len(values))}"
        return Pattern(Cause.TRUNCATED, name, ("is", "are"), evidence, width=width)
    return None


def explain(columns: Mapping[str, tuple[Any, Any]], patterns: Mapping[str, Pattern]) -> list[Pattern]:
    """The patterns that explain a row, when they explain every column it differs in (the first column's
    pattern gives the row's cause), else none."""
    found = [patterns.get(name) for name in columns]
    if not found or any(p is None or not p.explains(*columns[p.column]) for p in found):
        return []
    return [p for p in found if p is not None]


def describe(patterns: list[Pattern]) -> str:
    """The evidence of several columns in one sentence per kind: ``created_at and updated_at are 9 h ahead in
    every differing row: a time-zone conversion``."""
    return _describe(tuple((p.column, p.verb, p.evidence) for p in patterns))


@functools.lru_cache(maxsize=256)  # a table's rows share a handful of combinations of patterns
def _describe(patterns: tuple[tuple[str, tuple[str, str], str], ...]) -> str:
    groups: dict[tuple[tuple[str, str], str], list[str]] = {}
    for column, verb, evidence in patterns:
        columns = groups.setdefault((verb, evidence), [])
        if column not in columns:
            columns.append(column)
    sentences = []
    for (verb, evidence), columns in groups.items():
        names = columns[0] if len(columns) == 1 else ", ".join(columns[:-1]) + f" and {columns[-1]}"
        sentences.append(f"{names} {verb[len(columns) > 1]} {evidence}")
    return "; ".join(sentences)
