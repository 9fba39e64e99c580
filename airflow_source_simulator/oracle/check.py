"""One table of a target checked against its truth: which columns are compared, the rows read (key range by
key range for a large state), the comparison, and a finding per kind of difference with its causes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import duckdb
import pyarrow as pa

from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.oracle import diagnose, patterns
from airflow_source_simulator.oracle.compare import Comparison, Differences, Validity
from airflow_source_simulator.oracle.diagnose import ADVICE, Cause
from airflow_source_simulator.oracle.options import DBT_IS_DELETED, HardDeletes, Layout, Mode
from airflow_source_simulator.oracle.report import Finding, TableReport, plain
from airflow_source_simulator.oracle.target import Place, columns_by_name
from airflow_source_simulator.oracle.truth import Facts, Truth
from airflow_source_simulator.schema import Table
from airflow_source_simulator.sessions.base import Session


def _mapped(shape: Layout, table: Table, place: Place, present: Mapping[str, str]) -> dict[str, str]:
    """Each source column the target has -> the target's column (the exact spelling first, else by case, through
    ``present``: the target's columns by lower-case name)."""
    out = {}
    for column in table.columns:
        name = shape.target_column(table, column.name)
        found = name if name in place.columns else present.get(name.lower())
        if found is not None:
            out[column.name] = found
    return out


def check(
    db: duckdb.DuckDBPyConnection,
    target: Session,
    table: Table,
    truth: Truth,
    shape: Layout,
    place: Place,
    own: pa.Table | None,
    sample: int,
) -> TableReport:
    """The report of one table the target holds at ``place``."""
    qualified = f"{shape.source_schemas[table.role]}.{table.name}"
    present = columns_by_name(place.columns)
    mapped = _mapped(shape, table, place, present)
    scd2 = shape.mode == Mode.SCD2
    # The deleted marker may be on some tables only (a table without it has no row marked); the validity
    # columns of scd2 are on every table; dbt's new_record deletion marker is optional.
    marker = present.get(shape.deleted_column.lower()) if shape.deleted_column else None
    if scd2:
        marker = present.get(DBT_IS_DELETED)
        missing_special = [s for s in (shape.valid_from_column, shape.valid_to_column) if s.lower() not in present]
        if missing_special:
            raise SimulatorError(
                f"the target table {place.schema}.{place.name} has no column {', '.join(map(repr, missing_special))} "
                f"(mode={str(shape.mode)!r}). Nothing was checked."
            )
    specials = {present[s.lower()] for s in (shape.valid_from_column, shape.valid_to_column) if scd2}
    specials |= {marker} if marker else set()
    report = TableReport(qualified, f"{place.schema}.{place.name}", 0)
    report.missing_columns = [c.name for c in table.columns if c.name not in mapped]
    if table.key in report.missing_columns:
        raise SimulatorError(
            f"the target table {place.schema}.{place.name} has no key column {table.key}. Nothing was checked."
        )
    unmapped = [c for c in place.columns if c not in mapped.values() and c not in specials]
    report.ignored_columns = [c for c in unmapped if shape.ignored(c)]
    report.unexpected_columns = [c for c in unmapped if c not in report.ignored_columns]
    added = truth.schema_change(table.name)
    advice = ADVICE[Cause.SCHEMA_CHANGE]
    for column in report.missing_columns:
        if added and column == "loyalty_tier":
            report.notes.append(
                f"{qualified}: column {column} missing — {advice.what} of day {added} ({table.name}.{column} added): "
                f"{advice.fix}"
            )
        else:
            report.notes.append(f"{qualified}: column {column} missing from {place.schema}.{place.name}")
    quote = target.dialect.quote
    select = f"SELECT {', '.join(quote(c) for c in [*mapped.values(), *sorted(specials)])} FROM {place.ref(quote)}"

    def facts() -> Facts:  # computed only to explain a difference: a matching target never needs it
        return truth.facts(table.name)

    flagged: list[Any] = []
    if scd2:
        expected = truth.versions(table.name)
        report.expected_rows = expected.num_rows
        validity = Validity(
            present[shape.valid_from_column.lower()],
            present[shape.valid_to_column.lower()],
            shape.valid_to_current,
            marker,
        )
        comparison = Comparison(db, table, expected, target.read_arrow(select))
        try:
            differences = comparison.scd2(mapped, validity)
        finally:
            comparison.close()
    else:
        differences, flagged, report.expected_rows = _replica(
            db, target, table, truth, select, quote(mapped[table.key]), mapped, marker, own
        )
    report.found_rows, report.custom_rows = differences.found_rows, differences.custom_rows
    report.findings = _findings(table, differences, facts, scd2, "loyalty_tier" if added else None, sample)
    if scd2:
        report.findings.append(
            Finding.of(
                "versions of deleted keys left open",
                "version of a deleted key left open",
                differences.not_closed,
                lambda k: (Cause.HARD_DELETE, f"deleted on day {_deleted_on(facts(), k[0])}"),
                sample,
            )
        )
        report.findings.append(
            Finding.of(
                "deletion records of keys the source holds",
                "deletion record of a key the source holds",
                differences.deletion_records,
                lambda k: (Cause.NOT_IN_SOURCE, "the key was never hard-deleted by this day"),
                sample,
            )
        )
    elif shape.hard_deletes == HardDeletes.FLAGGED:
        deleted = set(facts().hard_deleted)
        report.findings.append(
            Finding.of(
                "hard-deleted rows not flagged",
                "hard-deleted row not flagged",
                sorted(deleted - set(flagged)),
                lambda k: (Cause.HARD_DELETE, f"deleted on day {facts().hard_deleted[k]}"),
                sample,
            )
        )
        report.findings.append(
            Finding.of(
                "rows flagged deleted that the source holds",
                "row flagged deleted that the source holds",
                sorted(set(flagged) - deleted),
                lambda k: diagnose.flagged(k, facts()),
                sample,
            )
        )
    return report


def _deleted_on(facts: Facts, key: Any) -> int:
    return facts.hard_deleted.get(key, facts.restored.get(key, (0,))[0])


def _findings(
    table: Table,
    differences: Differences,
    facts: Callable[[], Facts],
    scd2: bool,
    added: str | None,
    sample: int,
) -> list[Finding]:
    """The missing, unexpected, duplicated and differing rows (or versions), each with its causes."""
    noun, one = ("versions", "version") if scd2 else ("rows", "row")
    out = [
        Finding.of(
            f"{noun} missing",
            f"{one} missing",
            differences.missing,
            lambda k: diagnose.missing(k, facts(), scd2),
            sample,
        ),
        Finding.of(
            f"{noun} the source does not hold",
            f"{one} the source does not hold",
            differences.unexpected,
            lambda k: diagnose.unexpected(k, facts(), scd2),
            sample,
        ),
        Finding.of(
            "keys held more than once",
            "key held more than once",
            differences.duplicated,
            lambda k: (Cause.DUPLICATE_KEY, ""),
            sample,
        ),
    ]
    differing = Finding(f"{noun} differing", f"{one} differing")
    found = patterns.find(table, differences.differing) if differences.differing else {}
    evidence: dict[Cause, list[patterns.Pattern]] = {}  # the patterns behind each cause, once in the line
    for key, diff in differences.differing.items():
        cause, detail = diagnose.differing(key, diff, facts(), added, found)
        differing.columns.update(diff.keys())
        if cause in patterns.CAUSES:  # the row's every column has a pattern: those of its cause are the evidence
            evidence.setdefault(cause, []).extend(found[c] for c in diff if c in found and found[c].cause == cause)
        if len(differing.sample) >= sample:  # counted only: a sample entry is built while the sample has room
            differing.add(cause, {}, 0)
            continue
        values = {c: {"expected": plain(e), "found": plain(f)} for c, (e, f) in list(diff.items())[:3]}
        differing.add(cause, {"key": plain(key), "cause": str(cause), "detail": detail, "columns": values}, sample)
    differing.details = {cause: patterns.describe(found) for cause, found in evidence.items()}
    out.append(differing)
    return out


def _replica(
    db: duckdb.DuckDBPyConnection,
    target: Session,
    table: Table,
    truth: Truth,
    select: str,
    key: str,
    mapped: Mapping[str, str],
    marker: str | None,
    own: pa.Table | None,
) -> tuple[Differences, list[Any], int]:
    """A replica's differences, its keys flagged deleted and the rows expected: compared chunk by chunk when
    the truth comes in key ranges (a large state), each range's target rows read on their own. The first
    range also takes the target's keys below it, the last those above it and the NULL keys."""
    out, flagged, expected_rows = Differences(), [], own.num_rows if own is not None else 0
    for expected, low, high in truth.row_chunks(table.name):
        bounds = ([f"{key} >= {low}"] if low is not None else []) + ([f"{key} < {high}"] if high is not None else [])
        last = high is None
        where = " WHERE " + " AND ".join(bounds) + (f" OR {key} IS NULL" if last else "") if bounds else ""
        try:
            found = target.read_arrow(select + where)
        except Exception as error:
            if not where:
                raise
            raise SimulatorError(
                f"could not read the target's rows by key range ({where.strip()}): {error}. A state this large is "
                f"checked key range by key range, which needs the key column {key} to compare with numbers."
            ) from error
        comparison = Comparison(db, table, expected, found, own if last else None)
        try:
            part, part_flagged = comparison.replica(mapped, marker, own is not None)
        finally:
            comparison.close()
        expected_rows += expected.num_rows
        out.merge(part)
        flagged += part_flagged
    return out, flagged, expected_rows
