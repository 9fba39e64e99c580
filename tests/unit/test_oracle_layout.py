"""How a target is described to the oracle, checked before anything is read: no database needed."""

from __future__ import annotations

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
