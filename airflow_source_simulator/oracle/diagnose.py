"""Naming the simulated cause of each difference: what the source did that the pipeline got wrong, and how a
pipeline gets it right."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np

from airflow_source_simulator.data.calendar import day_of
from airflow_source_simulator.data.scenario import TOUCH_MINUTES
from airflow_source_simulator.oracle.causes import ADVICE, Advice, Cause
from airflow_source_simulator.oracle.patterns import Pattern, describe, explain
from airflow_source_simulator.oracle.truth import VALID_FROM, Facts

__all__ = ["ADVICE", "Advice", "Cause", "differing", "flagged", "missing", "unexpected"]


def _day(timestamp: Any) -> int | None:
    if not isinstance(timestamp, dt.datetime):
        return None
    seconds = int(timestamp.replace(tzinfo=dt.UTC).timestamp())
    return int(day_of(np.array([seconds]))[0])


def missing(key: Any, facts: Facts, scd2: bool) -> tuple[Cause, str]:
    """Why a row (or in scd2 a version (key, valid_from)) the target should hold is missing."""
    row = key[0] if scd2 else key
    if row in facts.restored:
        deleted, back = facts.restored[row]
        return Cause.RESTORED_KEY, f"deleted on day {deleted}, back on day {back}"
    if row in facts.late:
        arrived, _ = facts.late[row]
        return Cause.LATE_ARRIVING, f"arrived on day {arrived}"
    if scd2:
        day = max(_day(key[1]) or 0, 0)
        if facts.soft_deleted.get(row) == day:  # the version the soft delete made (a check on other columns)
            return Cause.SOFT_DELETE, f"the version of the soft delete of day {day}"
        return Cause.STALE_VERSION, f"the version of day {day}"
    if row in facts.soft_deleted:  # still in the source, deleted_at set: a pipeline that drops these misses it
        return Cause.SOFT_DELETE, f"soft-deleted on day {facts.soft_deleted[row]}"
    return Cause.UNEXPLAINED, f"inserted on day {facts.arrived.get(row, 0)}"


def unexpected(key: Any, facts: Facts, scd2: bool) -> tuple[Cause, str]:
    """Why the target holds a row (or version) the truth does not have."""
    row = key[0] if scd2 else key
    if not scd2 and row in facts.hard_deleted:
        return Cause.HARD_DELETE, f"deleted on day {facts.hard_deleted[row]}"
    if scd2 and row in facts.saved_twice:
        return Cause.SAVED_TWICE, f"an intermediate save on day {facts.saved_twice[row]}"
    return Cause.NOT_IN_SOURCE, ""


def flagged(key: Any, facts: Facts) -> tuple[Cause, str]:
    """Why the target keeps a row flagged deleted that the source holds."""
    if key in facts.restored:
        deleted, back = facts.restored[key]
        return Cause.RESTORED_KEY, f"deleted on day {deleted}, back on day {back}: its tombstone is still flagged"
    return Cause.UNEXPLAINED, ""


def differing(
    key: Any,
    columns: dict[str, tuple[Any, Any]],
    facts: Facts,
    added_column: str | None,
    patterns: Mapping[str, Pattern] | None = None,
) -> tuple[Cause, str]:
    """Why a row (or version) the target holds has other values than the truth. ``patterns``: the table's
    column patterns (a time-zone shift, cut text...), which explain a row whose every difference they cover."""
    row = key[0] if isinstance(key, tuple) else key
    if added_column and set(columns) == {added_column} and columns[added_column][1] is None:
        return Cause.SCHEMA_CHANGE, f"{added_column} is not loaded"
    expected, found = columns.get("updated_at", (None, None))
    stamps = isinstance(expected, dt.datetime) and isinstance(found, dt.datetime)
    if stamps and row in facts.saved_twice and expected - found == dt.timedelta(minutes=TOUCH_MINUTES):
        return Cause.SAVED_TWICE, f"the target has the first save of day {_day(expected)}"
    explained = explain(columns, patterns or {})
    if explained:
        cause = explained[0].cause
        return cause, describe([p for p in explained if p.cause == cause])
    if stamps and found < expected:
        if "deleted_at" in columns and columns["deleted_at"][1] is None and row in facts.soft_deleted:
            return Cause.SOFT_DELETE, f"the soft delete of day {facts.soft_deleted[row]} is missing"
        return Cause.STALE_VERSION, f"the update of day {_day(expected)} is missing"
    if "valid_to" in columns or VALID_FROM in columns:
        ended = columns.get("valid_to", (None, None))[0]
        if ended is not None and facts.soft_deleted.get(row) == _day(ended):  # ended by the soft delete's version
            return Cause.SOFT_DELETE, f"the soft delete of day {facts.soft_deleted[row]} did not end it"
        return Cause.STALE_VERSION, "its validity interval differs"
    return Cause.UNEXPLAINED, ""
