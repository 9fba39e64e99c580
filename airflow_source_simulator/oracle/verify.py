"""The fifth operation: check what a pipeline wrote against the simulated ground truth, and name the cause of
every miss. It only reads: the source (its ledger, and rows of the user's own) and the target."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import closing
from typing import Any, Unpack

import pyarrow as pa

from airflow_source_simulator.core.arguments import parse_day, parse_profile, parse_scale
from airflow_source_simulator.core.names import validate_schema_name
from airflow_source_simulator.data.scenario import CLASSIC, CUSTOM_ID_FLOOR
from airflow_source_simulator.defaults import CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.errors import ArgumentError, SimulatorError
from airflow_source_simulator.oracle.check import check
from airflow_source_simulator.oracle.compare import engine
from airflow_source_simulator.oracle.options import Layout, LayoutOptions, Mode, layout
from airflow_source_simulator.oracle.report import Report, TableReport
from airflow_source_simulator.oracle.target import locate
from airflow_source_simulator.oracle.truth import Truth
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
    tables = [t for t in truth.tables() if shape.tables is None or t.name in shape.tables]
    with target.hold(log, read_only=True), closing(engine()) as db:
        places = locate(target, shape, tables)
        for table in tables:
            place = places[table.name]
            if place is None:  # every absent table is named at once, and the others are still checked
                report.tables.append(_absent(table, truth, shape, own.get(table.name)))
                continue
            log.info(
                "Checking %s.%s against %s.%s", shape.source_schemas[table.role], table.name, place.schema, place.name
            )
            report.tables.append(check(db, target, table, truth, shape, place, own.get(table.name), sample_size))
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


def _absent(table: Table, truth: Truth, shape: Layout, own: pa.Table | None) -> TableReport:
    """A table the target does not have: no difference while the truth has no row (loaders such as dlt create
    a table only once its source table has one), else every expected row is missing."""
    schema, name = shape.target_table(table)
    expected = truth.count(table.name) + (own.num_rows if own is not None else 0)
    return TableReport(f"{shape.source_schemas[table.role]}.{table.name}", f"{schema}.{name}", expected, absent=True)
