"""The causes the oracle names: what the source did (or the pipeline did to the values) that the target got
wrong, each with what the rows are in the log's words and how a pipeline gets them right."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
        "shifted by a constant offset",
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
