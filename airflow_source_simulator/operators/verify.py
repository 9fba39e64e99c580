"""VerifyTargetOperator: the pipeline's target checked against the simulated source, as a task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_source_simulator.defaults import CONN_ID, CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.errors import TargetMismatchError
from airflow_source_simulator.oracle.options import DBT_VALID_FROM, DBT_VALID_TO, LayoutOptions, Mode
from airflow_source_simulator.oracle.verify import verify_target

if TYPE_CHECKING:
    from airflow.sdk import Context


class VerifyTargetOperator(BaseOperator):
    """Check what a pipeline wrote (the target) against the simulated source's ground truth, and name the
    simulated cause of every miss: late-arriving rows, hard deletes, restored keys, rows saved twice, soft
    deletes, stale versions, the schema change. The task fails when anything differs; its return value
    (XCom) is the whole report, with samples of keys.

    :param target_conn_id: Airflow connection of the database the pipeline wrote (any supported platform).
        (templated)
    :param target_schema: the target schema of both source schemas, or a mapping from each source schema to
        its target schema, e.g. ``{"jaffle_shop": "raw_shop", "jaffle_crm": "raw_crm"}``. (templated)
    :param table_name: the target table's name, a format string over ``{schema}`` (the source schema) and
        ``{table}``. Default ``"{table}"``. (templated)
    :param mode: ``replica`` (the source's rows at the day) or ``scd2`` (every end-of-day version, with
        validity columns). (templated)
    :param conn_id: the simulated source; its ledger gives the day, scale and profile. Default
        ``duckdb_default`` when ``day`` is not given; giving both is refused. (templated)
    :param day: the day to check against instead of the source's ledger (with ``scale``, ``profile``).
        (templated)
    :param scale: with ``day``: the scale (default 1). (templated)
    :param profile: with ``day``: the change profile (default ``classic``). (templated)
    :param shop_schema: the source's ERP schema (default ``jaffle_shop``). (templated)
    :param crm_schema: the source's CRM schema (default ``jaffle_crm``). (templated)
    :param ignore_columns: glob patterns of the loader's own columns, e.g. ``["_dlt_*", "_fivetran_*"]``
        (a pattern that matches no column is fine: a list of every loader's patterns is normal). (templated)
    :param column_names: the target's names of source columns, by ``column`` or ``table.column``.
        (templated)
    :param deleted_column: replica: the loader's column marking a deleted row (``_fivetran_deleted``,
        ``_ab_cdc_deleted_at``); marked rows are not compared as live ones. (templated)
    :param hard_deletes: replica: ``absent`` (hard-deleted rows must be gone) or ``flagged`` (kept, marked by
        ``deleted_column``; the default when it is given). (templated)
    :param valid_from_column: scd2: the version's start (default dbt snapshot's ``dbt_valid_from``).
        (templated)
    :param valid_to_column: scd2: the version's end (default ``dbt_valid_to``). (templated)
    :param valid_to_current: scd2: the valid_to of a current version, when the target writes a date instead of
        NULL (dbt's ``dbt_valid_to_current``), e.g. ``"9999-12-31"``; by default NULL or any date from year 9000
        on means current. (templated)
    :param tables: the source tables to check, as ``table`` or ``schema.table`` (default: all). A table the
        target lacks is no difference while its source table is empty. (templated)
    :param sample_size: keys listed per kind of difference and table (default 10).
    """

    template_fields: Sequence[str] = (
        "target_conn_id",
        "target_schema",
        "table_name",
        "mode",
        "conn_id",
        "day",
        "scale",
        "profile",
        "shop_schema",
        "crm_schema",
        "ignore_columns",
        "column_names",
        "deleted_column",
        "hard_deletes",
        "valid_from_column",
        "valid_to_column",
        "valid_to_current",
        "tables",
    )
    ui_color = "#dcfce7"

    def __init__(
        self,
        *,
        target_conn_id: str,
        target_schema: str | Mapping[str, str],
        table_name: str = "{table}",
        mode: str = Mode.REPLICA,
        conn_id: str | None = None,
        day: int | str | None = None,
        scale: int | str | None = None,
        profile: str | None = None,
        shop_schema: str = SHOP_SCHEMA,
        crm_schema: str = CRM_SCHEMA,
        ignore_columns: Sequence[str] | None = None,
        column_names: Mapping[str, str] | None = None,
        deleted_column: str | None = None,
        hard_deletes: str | None = None,
        valid_from_column: str = DBT_VALID_FROM,
        valid_to_column: str = DBT_VALID_TO,
        valid_to_current: str | None = None,
        tables: Sequence[str] | None = None,
        sample_size: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target_conn_id = target_conn_id
        self.target_schema = target_schema
        self.conn_id = conn_id
        self.day = day
        self.scale = scale
        self.profile = profile
        self.shop_schema = shop_schema
        self.crm_schema = crm_schema
        self.sample_size = sample_size
        # The layout of the target, as verify_target takes it.
        self.table_name = table_name
        self.mode = mode
        self.ignore_columns = ignore_columns
        self.column_names = column_names
        self.deleted_column = deleted_column
        self.hard_deletes = hard_deletes
        self.valid_from_column = valid_from_column
        self.valid_to_column = valid_to_column
        self.valid_to_current = valid_to_current
        self.tables = tables

    def execute(self, context: Context) -> dict[str, Any]:
        options = {name: getattr(self, name) for name in LayoutOptions.__annotations__}
        report = verify_target(
            target_conn_id=self.target_conn_id,
            target_schema=self.target_schema,
            # The default source applies only without day=: a source named together with a day is refused.
            conn_id=CONN_ID if self.conn_id is None and self.day is None else self.conn_id,
            day=self.day,
            scale=self.scale,
            profile=self.profile,
            shop_schema=self.shop_schema,
            crm_schema=self.crm_schema,
            sample_size=self.sample_size,
            log=self.log,
            **options,
        )
        result = report.to_dict()
        if report.ok:
            return result
        ti = context.get("ti")
        if ti is not None:  # the whole report stays available to the next task and the UI, also on failure
            ti.xcom_push(key="return_value", value=result)
        raise TargetMismatchError(report.failure())
