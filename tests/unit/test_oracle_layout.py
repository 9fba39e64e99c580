"""How a target is described to the oracle, checked before anything is read: no database needed."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_source_simulator.errors import ArgumentError
from airflow_source_simulator.oracle.diagnose import ADVICE, Cause
from airflow_source_simulator.oracle.options import HardDeletes, Mode, layout
from airflow_source_simulator.oracle.report import Finding
from airflow_source_simulator.schema import TABLES_BY_NAME

CUSTOMERS, SESSIONS = TABLES_BY_NAME["customers"], TABLES_BY_NAME["web_sessions"]


def test_tables_are_placed_by_schema_mapping_and_name_format() -> None:
    shape = layout({"jaffle_shop": "raw_shop", "jaffle_crm": "raw_crm"}, table_name="{schema}__{table}")
    assert shape.target_table(CUSTOMERS) == ("raw_shop", "jaffle_shop__customers")
    assert shape.target_table(SESSIONS) == ("raw_crm", "jaffle_crm__web_sessions")
    assert layout("raw").target_table(SESSIONS) == ("raw", "web_sessions")


def test_renames_by_table_win_over_renames_by_column_and_patterns_ignore_the_loaders_columns() -> None:
    shape = layout("raw", column_names={"email": "mail", "customers.email": "email_address"}, ignore_columns=["_dlt_*"])
    assert shape.target_column(CUSTOMERS, "email") == "email_address"
    assert shape.target_column(CUSTOMERS, "first_name") == "first_name"
    assert shape.ignored("_dlt_load_id") and not shape.ignored("dbt_scd_id")
    assert layout("raw", mode="scd2").ignored("dbt_scd_id")


def test_a_deleted_marker_makes_hard_deletes_flagged_unless_told_otherwise() -> None:
    assert layout("raw").hard_deletes == HardDeletes.ABSENT
    assert layout("raw", deleted_column="_fivetran_deleted").hard_deletes == HardDeletes.FLAGGED
    assert layout("raw", deleted_column="_x", hard_deletes="absent").hard_deletes == HardDeletes.ABSENT
    assert layout("raw", mode="scd2").mode == Mode.SCD2


@pytest.mark.parametrize(
    ("target_schema", "options", "message"),
    [
        ("raw", {"mode": "append"}, "mode='append' is not a target mode: give one of replica, scd2"),
        ({"jaffle_shop": "a", "shop": "b"}, {}, "target_schema names 'shop', which is not a source schema"),
        ({"jaffle_shop": "a", "Jaffle_Shop": "b"}, {}, "names the source schema 'jaffle_shop' twice"),
        ({"jaffle_shop": "a"}, {}, "target_schema gives no target schema for 'jaffle_crm'"),
        ("raw; drop", {}, "target_schema='raw; drop' is not a plain identifier"),
        ("raw", {"table_name": "tbl"}, "must hold {table} (and optionally {schema})"),
        ("raw", {"table_name": "{table}_{day}"}, "has the field {day}: the only fields are {schema} and {table}"),
        ("raw", {"table_name": "{table}", "ignore_columns": "_dlt_*"}, "give a list of column names or glob patterns"),
        ("raw", {"hard_deletes": "flagged"}, "hard_deletes='flagged' needs deleted_column"),
        ("raw", {"hard_deletes": "gone"}, "hard_deletes='gone' is not valid: give one of absent, flagged"),
        ("raw", {"mode": "scd2", "deleted_column": "_x"}, "deleted_column is for mode='replica'"),
        ("raw", {"table_name": "{table}{table.nope}"}, "has the field {table.nope}"),
        ("raw", {"table_name": "{table}{table[x]}"}, "has the field {table[x]}"),
        ("raw", {"table_name": "{0}"}, "has the field {0}"),
        ("raw", {"table_name": "{}{table}"}, "has the field {}"),
        ("raw", {"table_name": "{table}{schema.upper}"}, "has the field {schema.upper}"),
        ("raw", {"table_name": "{table:>20}"}, "has the field {table:>20}"),
        ("raw", {"table_name": 5}, "table_name=5 is not valid: give text holding {table}"),
        ("raw", {"column_names": {"email": 5}}, "column_names has 'email': 5; both must be text"),
        ("raw", {"column_names": {"email": None}}, "column_names has 'email': None; both must be text"),
        ("raw", {"column_names": ["email"]}, "column_names=['email'] is not valid: give a mapping"),
        ("raw", {"column_names": {"e_mail": "mail"}}, "'e_mail' is not a column of any source table"),
        ("raw", {"column_names": {"orders.email": "mail"}}, "'email' is not a column of the source table orders"),
        ("raw", {"column_names": {"order.status": "s"}}, "'order' is not a source table"),
        ("raw", {"deleted_column": 5}, "deleted_column=5 is not valid: give the target column's name"),
        ("raw", {"deleted_column": "deleted_at"}, "deleted_column='deleted_at' is a column of the source"),
        ("raw", {"mode": "scd2", "valid_from_column": None}, "valid_from_column=None is not valid"),
        ("raw", {"mode": "scd2", "valid_to_column": ""}, "valid_to_column='' is not valid"),
        ("raw", {"mode": "scd2", "valid_to_current": "someday"}, "valid_to_current='someday' is not a timestamp"),
        ("raw", {"tables": "customers"}, "tables='customers' is not valid: give a list of source tables"),
        ("raw", {"tables": []}, "tables=[] is not valid"),
        ("raw", {"tables": ["jaffle_crm.customers"]}, "tables names 'jaffle_crm.customers', which is not a source"),
        ("raw", {"tables": [5]}, "tables names 5, which is not a source table"),
    ],
)
def test_a_bad_layout_is_refused_by_name(target_schema: object, options: dict[str, object], message: str) -> None:
    with pytest.raises(ArgumentError) as refused:
        layout(target_schema, **options)  # type: ignore[arg-type]
    assert message in str(refused.value)


def test_a_finding_reads_like_a_diagnosis() -> None:
    late = Finding.of("rows missing", "row missing", [3, 5], lambda k: (Cause.LATE_ARRIVING, ""), sample=1)
    assert late.line("jaffle_crm.web_sessions") == (
        f"jaffle_crm.web_sessions: 2 rows missing — all {ADVICE[Cause.LATE_ARRIVING].what}: "
        f"{ADVICE[Cause.LATE_ARRIVING].fix}"
    )
    assert late.to_dict() == {
        "count": 2,
        "causes": {"late_arriving": 2},
        "sample": [{"key": 3, "cause": "late_arriving", "detail": ""}],
    }
    mixed = Finding.of(
        "rows missing", "row missing", [3, 5], lambda k: (Cause.LATE_ARRIVING if k == 3 else Cause.UNEXPLAINED, ""), 5
    )
    assert "1 late-arriving" in mixed.line("t") and "1 unexplained by any simulated change" in mixed.line("t")


def test_the_new_options_are_read_as_given() -> None:
    shape = layout(
        "raw",
        mode="scd2",
        valid_to_current="9999-12-31",
        tables=["customers", "JAFFLE_CRM.web_sessions"],
        column_names={"orders.status": "Status"},
    )
    assert shape.valid_to_current == dt.datetime(9999, 12, 31)
    assert shape.tables == frozenset({"customers", "web_sessions"})
    assert shape.target_column(TABLES_BY_NAME["orders"], "status") == "Status"
    assert layout("raw", table_name="{{{table}}}").target_table(CUSTOMERS) == ("raw", "{customers}")
    assert layout("raw").valid_to_current is None and layout("raw").tables is None
