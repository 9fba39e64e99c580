"""The fifth operation: check what a pipeline wrote against the simulated ground truth, and name the cause of
every miss. It only reads: the source (its ledger, and rows of the user's own) and the target."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping
from contextlib import closing
from typing import Any, Unpack

import duckdb
import pyarrow as pa

from airflow_source_simulator.core.arguments import parse_day, parse_profile, parse_scale
from airflow_source_simulator.core.names import validate_schema_name
from airflow_source_simulator.data.scenario import CLASSIC, CUSTOM_ID_FLOOR
from airflow_source_simulator.defaults import CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.errors import ArgumentError, SimulatorError
from airflow_source_simulator.oracle import diagnose
from airflow_source_simulator.oracle.compare import Comparison, Differences, engine
from airflow_source_simulator.oracle.options import HardDeletes, Layout, LayoutOptions, Mode, layout
from airflow_source_simulator.oracle.report import Finding, Report, TableReport, plain
from airflow_source_simulator.oracle.truth import Facts, Truth
from airflow_source_simulator.schema import Table
from airflow_source_simulator.sessions.base import Session
from airflow_source_simulator.simulator import Simulator

_LOG = logging.getLogger(__name__)


def verify_target(
    *,
    target_schema: str | Mapping[str, str],
    target_conn_id: str | None = None,
    conn_id: str | None = None,
    day: int | str | None = None,
    scale: int | str | None = None,
    profile: str | None = None,
    shop_schema: str = SHOP_SCHEMA,
    crm_schema: str = CRM_SCHEMA,
    sample_size: int = 10,
    log: logging.Logger | Any | None = None,
    source_session: Session | None = None,
    target_session: Session | None = None,
    **options: Unpack[LayoutOptions],
) -> Report:
    """Check a pipeline's target against the simulated source's ground truth; returns the report.

    The state to check against comes from the source's ledger (``conn_id``, or ``source_session``) or is
    given as ``day`` (with ``scale`` and ``profile``, defaults 1 and ``classic``). The target is read through
    ``target_conn_id`` (or ``target_session``); nothing is written anywhere. ``options`` describe the
    target's layout: ``table_name``, ``mode`` (``replica`` or ``scd2``), ``ignore_columns``, ``column_names``,
    ``deleted_column``, ``hard_deletes``, ``valid_from_column``, ``valid_to_column`` (see
    ``VerifyTargetOperator``).
    """
    log = log or _LOG
    sources = {
        "shop": validate_schema_name(shop_schema, "shop_schema"),
        "crm": validate_schema_name(crm_schema, "crm_schema"),
    }
    shape = layout(target_schema, sources, **options)  # type: ignore[arg-type]
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 0:
        raise ArgumentError(f"sample_size={sample_size!r} is not valid: give a whole number of keys, 0 or more.")
    source = _source_session(conn_id, source_session, day, scale, profile)
    target = _target_session(target_conn_id, target_session)
    truth, own = _truth(source, sources, day, scale, profile, shape, log)
    report = Report(str(shape.mode), truth.day, truth.scale, str(truth.profile))
    with target.hold(log, read_only=True), closing(engine()) as db:
        columns = _target_columns(target, shape, truth)
        for table in truth.tables():
            place, found_columns = columns[table.name]
            report.tables.append(
                _check(db, target, table, truth, shape, place, found_columns, own.get(table.name), sample_size)
            )
    log.info("%s", report.summary())
    for line in report.lines():
        log.info("  %s", line)
    return report


def _source_session(
    conn_id: str | None, given: Session | None, day: object, scale: object, profile: object
) -> Session | None:
    if (conn_id or given) and day is not None:
        raise ArgumentError(
            "give either the source (conn_id), whose ledger says the day, scale and profile, or day= (with scale= and "
            "profile=) to check without the source; not both."
        )
    if day is None and (scale is not None or profile is not None):
        # Silently checking against the ledger's scale when the caller named another would hide their mistake.
        raise ArgumentError(
            f"scale={scale!r} and profile={profile!r} describe the state to check with day=; without day= the "
            "source's ledger gives them."
        )
    if given is not None:
        return given
    if conn_id:
        from airflow_source_simulator.sessions.registry import session_for_connection

        return session_for_connection(conn_id)
    if day is None:
        raise ArgumentError("give the source (conn_id) or the state to check against (day=, scale=, profile=).")
    return None


def _target_session(conn_id: str | None, given: Session | None) -> Session:
    if given is not None:
        return given
    if not conn_id:
        raise ArgumentError("give target_conn_id: the Airflow connection of the database the pipeline wrote.")
    from airflow_source_simulator.sessions.registry import session_for_connection

    return session_for_connection(conn_id)


def _truth(
    source: Session | None,
    schemas: Mapping[str, str],
    day: object,
    scale: object,
    profile: object,
    shape: Layout,
    log: Any,
) -> tuple[Truth, dict[str, pa.Table]]:
    """The state to check against, and the source's rows of the user's own per table (replica only)."""
    if source is None:
        return Truth(
            parse_day(day, baseline=True), parse_scale(1 if scale is None else scale), parse_profile(profile or CLASSIC)
        ), {}
    simulator = Simulator(source, shop_schema=schemas["shop"], crm_schema=schemas["crm"], log=log)
    with source.hold(log, read_only=True):
        inspection = simulator.inspect()
        if inspection.entry is None:
            raise SimulatorError(
                f"the source in {schemas['shop']} / {schemas['crm']} has not been loaded by the simulator: nothing to "
                "check a target against. Load it, or give day= (with scale= and profile=)."
            )
        entry = inspection.entry
        truth = Truth(entry.day, entry.scale, parse_profile(entry.profile))
        own = {}
        if shape.mode == Mode.REPLICA:
            for table in truth.tables():
                rows = source.read_arrow(simulator.source.rows_query(table, f" WHERE {table.key} >= {CUSTOM_ID_FLOOR}"))
                if rows.num_rows:
                    own[table.name] = rows
    return truth, own


def _target_columns(target: Session, shape: Layout, truth: Truth) -> dict[str, tuple[tuple[str, str], list[str]]]:
    """Each table's target (schema, table) and columns, as the catalog spells them; refuses a missing table or
    an ignore pattern that matches no column."""
    catalog = target.catalog(sorted(set(shape.schemas.values())))
    folded = {(s.lower(), t.lower()): ((s, t), list(cols)) for (s, t), cols in catalog.items()}
    out = {}
    for table in truth.tables():
        schema, name = shape.target_table(table)
        found = folded.get((schema.lower(), name.lower()))
        if found is None:
            raise SimulatorError(
                f"the target has no table {schema}.{name} (for {shape.source_schemas[table.role]}.{table.name}; "
                f"target_schema={dict(shape.schemas)!r}, table_name={shape.table_name!r}). Nothing was checked."
            )
        out[table.name] = found
    used = {p for p in shape.ignore_columns for _, cols in out.values() for c in cols if fnmatch.fnmatchcase(c, p)}
    unused = [p for p in shape.ignore_columns if p not in used]
    if unused:
        raise ArgumentError(
            f"ignore_columns pattern {', '.join(map(repr, unused))} matches no column of the target's tables: check "
            "the spelling, or leave it out."
        )
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


def _check(
    db: duckdb.DuckDBPyConnection,
    target: Session,
    table: Table,
    truth: Truth,
    shape: Layout,
    place: tuple[str, str],
    found_columns: list[str],
    own: pa.Table | None,
    sample: int,
) -> TableReport:
    schema, name = shape.target_table(table)
    qualified = f"{shape.source_schemas[table.role]}.{table.name}"
    present = {c.lower(): c for c in found_columns}
    mapped = {
        c.name: present[shape.target_column(table, c.name).lower()]
        for c in table.columns
        if shape.target_column(table, c.name).lower() in present
    }
    # The deleted marker may be on some tables only (a table without it has no row marked); the validity
    # columns of scd2 are on every table.
    marker = present.get(shape.deleted_column.lower()) if shape.deleted_column else None
    special = {shape.valid_from_column, shape.valid_to_column} if shape.mode == Mode.SCD2 else set()
    specials = {present[s.lower()] for s in special if s.lower() in present} | ({marker} if marker else set())
    missing_special = [s for s in special if s.lower() not in present]
    if missing_special:
        raise SimulatorError(
            f"the target table {schema}.{name} has no column {', '.join(map(repr, missing_special))} "
            f"(mode={str(shape.mode)!r}). Nothing was checked."
        )
    report = TableReport(qualified, f"{schema}.{name}", 0)
    report.missing_columns = [c.name for c in table.columns if c.name not in mapped]
    if table.key in report.missing_columns:
        raise SimulatorError(f"the target table {schema}.{name} has no key column {table.key}. Nothing was checked.")
    report.ignored_columns = [
        c for c in found_columns if c not in mapped.values() and c not in specials and shape.ignored(c)
    ]
    report.unexpected_columns = [
        c for c in found_columns if c not in mapped.values() and c not in specials and c not in report.ignored_columns
    ]
    added = truth.schema_change(table.name)
    for column in report.missing_columns:
        if added and column in truth.table(table.name).column_names and column == "loyalty_tier":
            report.notes.append(
                f"{qualified}: column {column} missing — {diagnose.ADVICE[diagnose.Cause.SCHEMA_CHANGE].what} of day "
                f"{added} ({table.name}.{column} added): {diagnose.ADVICE[diagnose.Cause.SCHEMA_CHANGE].fix}"
            )
        else:
            report.notes.append(f"{qualified}: column {column} missing from {schema}.{name}")
    quote = target.dialect.quote
    columns = ", ".join(quote(c) for c in [*mapped.values(), *specials])
    select = f"SELECT {columns} FROM {quote(place[0])}.{quote(place[1])}"

    def facts() -> Facts:  # computed only to explain a difference: a matching target never needs it
        return truth.facts(table.name)

    scd2 = shape.mode == Mode.SCD2
    flagged: list[Any] = []
    if scd2:
        expected = truth.versions(table.name)
        report.expected_rows = expected.num_rows
        comparison = Comparison(db, table, expected, target.read_arrow(select))
        try:
            differences = comparison.scd2(
                mapped, present[shape.valid_from_column.lower()], present[shape.valid_to_column.lower()]
            )
        finally:
            comparison.close()
    else:
        differences, flagged, report.expected_rows = _replica(
            db, target, table, truth, select, quote(mapped[table.key]), mapped, marker, own
        )
    report.found_rows, report.custom_rows = differences.found_rows, differences.custom_rows
    noun = "versions" if scd2 else "rows"
    report.findings = [
        Finding.of(f"{noun} missing", differences.missing, lambda k: diagnose.missing(k, facts(), scd2), sample),
        Finding.of(
            f"{noun} the source does not hold",
            differences.unexpected,
            lambda k: diagnose.unexpected(k, facts(), scd2),
            sample,
        ),
        Finding.of(
            "keys held more than once", differences.duplicated, lambda k: (diagnose.Cause.DUPLICATE_KEY, ""), sample
        ),
    ]
    differing = Finding(f"{noun} differing")
    for key, diff in differences.differing.items():
        cause, detail = diagnose.differing(key, diff, facts(), "loyalty_tier" if added else None)
        differing.count += 1
        differing.causes[cause] += 1
        if len(differing.sample) < sample:
            values = {c: {"expected": plain(e), "found": plain(f)} for c, (e, f) in list(diff.items())[:3]}
            differing.sample.append({"key": plain(key), "cause": str(cause), "detail": detail, "columns": values})
    report.findings.append(differing)
    if scd2:
        report.findings.append(
            Finding.of(
                "versions of deleted keys left open",
                differences.not_closed,
                lambda k: (
                    diagnose.Cause.HARD_DELETE,
                    f"deleted on day {facts().hard_deleted.get(k[0], facts().restored.get(k[0], (0,))[0])}",
                ),
                sample,
            )
        )
    elif shape.hard_deletes == HardDeletes.FLAGGED:
        deleted = set(facts().hard_deleted)
        report.findings.append(
            Finding.of(
                "hard-deleted rows not flagged",
                sorted(deleted - set(flagged)),
                lambda k: (diagnose.Cause.HARD_DELETE, f"deleted on day {facts().hard_deleted[k]}"),
                sample,
            )
        )
        report.findings.append(
            Finding.of(
                "rows flagged deleted that the source holds",
                sorted(set(flagged) - deleted),
                lambda k: (diagnose.Cause.UNEXPLAINED, ""),
                sample,
            )
        )
    return report
