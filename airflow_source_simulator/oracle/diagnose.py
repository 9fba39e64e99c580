"""Naming the simulated cause of each difference: what the source did that the pipeline got wrong, and how a
pipeline gets it right."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from airflow_source_simulator.data.calendar import day_of
from airflow_source_simulator.data.scenario import TOUCH_MINUTES
from airflow_source_simulator.oracle.truth import VALID_FROM, Facts


class Cause(StrEnum):
    LATE_ARRIVING = "late_arriving"
    HARD_DELETE = "hard_delete"
    RESTORED_KEY = "restored_key"
    SAVED_TWICE = "saved_twice"
    SOFT_DELETE = "soft_delete"
    STALE_VERSION = "stale_version"
    SCHEMA_CHANGE = "schema_change"
    TIME_ZONE = "time_zone"
    NULL_AS_EMPTY = "null_as_empty"
    TRUNCATED = "truncated"
    NARROWED = "narrowed"
    NOT_IN_SOURCE = "not_in_source"
    DUPLICATE_KEY = "duplicate_key"
    UNEXPLAINED = "unexplained"


@dataclass(frozen=True)
class Advice:
    what: str  # what the rows are, in the log's words
    fix: str  # what a pipeline does to get them right


ADVICE: dict[Cause, Advice] = {
    Cause.LATE_ARRIVING: Advice(
        "late-arriving (updated_at before the previous day's watermark)",
        "an updated_at > watermark load needs a look-back of at least 1 day",
    ),
    Cause.HARD_DELETE: Advice(
        "hard-deleted in the source",
        "a watermark never sees a delete: compare the keys with the source (or read its change log) and delete "
        "them, or keep them flagged (deleted_column=...); in SCD2, close the key's last version",
    ),
    Cause.RESTORED_KEY: Advice(
        "hard-deleted and then restored with the same key",
        "re-insert a key that comes back after a delete (its row carries a new updated_at)",
    ),
    Cause.SAVED_TWICE: Advice(
        "saved twice within the day",
        "keep the last save of a day: the row with the greatest updated_at per key (one end-of-day version)",
    ),
    Cause.SOFT_DELETE: Advice(
        "soft-deleted (deleted_at set)",
        "load deleted_at like any other column and keep soft-deleted rows",
    ),
    Cause.STALE_VERSION: Advice(
        "an older version (the day's update is missing)",
        "merge each increment by key (upsert), and read every row whose updated_at is past the watermark",
    ),
    Cause.SCHEMA_CHANGE: Advice(
        "the schema change",
        "let a column the source adds through to the target (schema evolution), with its values",
    ),
    Cause.TIME_ZONE: Advice(
        "shifted by a constant offset (a time-zone conversion)",
        "load timestamps as the source holds them (UTC): no session time zone, no local-time conversion",
    ),
    Cause.NULL_AS_EMPTY: Advice(
        "NULL stored as an empty string",
        "keep NULL as NULL (check the loader's null marker, e.g. a CSV's empty field or NULL text)",
    ),
    Cause.TRUNCATED: Advice(
        "text cut short",
        "give the target column the source's length (or an unbounded text type)",
    ),
    Cause.NARROWED: Advice(
        "values narrowed (precision or type lost)",
        "give the target column the source's type (e.g. DECIMAL(10,2), not INTEGER)",
    ),
    Cause.NOT_IN_SOURCE: Advice("not in the source", "the target holds rows the source never had at this day"),
    Cause.DUPLICATE_KEY: Advice(
        "held more than once", "merge on the key instead of appending, or deduplicate to the latest row per key"
    ),
    # Missing, unexpected or differing rows the source did nothing unusual to: the pipeline's own doing.
    Cause.UNEXPLAINED: Advice(
        "unexplained by any simulated change", "check the pipeline's filters, joins and transformations of these rows"
    ),
}


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
        day = _day(key[1])
        return Cause.STALE_VERSION, f"the version of day {max(day or 0, 0)}"
    return Cause.UNEXPLAINED, f"inserted on day {facts.arrived.get(row, 0)}"


def unexpected(key: Any, facts: Facts, scd2: bool) -> tuple[Cause, str]:
    """Why the target holds a row (or version) the truth does not have."""
    row = key[0] if scd2 else key
    if not scd2 and row in facts.hard_deleted:
        return Cause.HARD_DELETE, f"deleted on day {facts.hard_deleted[row]}"
    if scd2 and row in facts.saved_twice:
        return Cause.SAVED_TWICE, f"an intermediate save on day {facts.saved_twice[row]}"
    return Cause.NOT_IN_SOURCE, ""


def differing(
    key: Any, columns: dict[str, tuple[Any, Any]], facts: Facts, added_column: str | None
) -> tuple[Cause, str]:
    """Why a row (or version) the target holds has other values than the truth."""
    row = key[0] if isinstance(key, tuple) else key
    if added_column and set(columns) == {added_column}:
        return Cause.SCHEMA_CHANGE, f"{added_column} is not loaded"
    expected, found = columns.get("updated_at", (None, None))
    if isinstance(expected, dt.datetime) and isinstance(found, dt.datetime) and found < expected:
        day = _day(expected)
        if row in facts.saved_twice and expected - found == dt.timedelta(minutes=TOUCH_MINUTES):
            return Cause.SAVED_TWICE, f"the target has the first save of day {day}"
        if "deleted_at" in columns and columns["deleted_at"][1] is None and row in facts.soft_deleted:
            return Cause.SOFT_DELETE, f"the soft delete of day {facts.soft_deleted[row]} is missing"
        return Cause.STALE_VERSION, f"the update of day {day} is missing"
    if "valid_to" in columns or VALID_FROM in columns:
        return Cause.STALE_VERSION, "its validity interval differs"
    return Cause.UNEXPLAINED, ""
