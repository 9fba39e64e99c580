"""The oracle's comparison of one table on its own: the truth and a target given as Arrow tables, compared in an
in-memory DuckDB (the engine the oracle always compares in; no database is read). Each kind of difference, each
way a target stores a value or marks a deleted row, and scd2's versions, deletion records and current dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR, Profile
from airflow_source_simulator.oracle.compare import Comparison, Differences, Validity, _cast, engine, marker
from airflow_source_simulator.oracle.truth import CLOSED, VALID_FROM, VALID_TO, Truth
from airflow_source_simulator.schema import TABLES_BY_NAME

CAMPAIGNS, SESSIONS = TABLES_BY_NAME["campaigns"], TABLES_BY_NAME["web_sessions"]
TRUTH = Truth(0, 1, Profile.CLASSIC).rows("campaigns")  # five campaigns
ALL = {c.name: c.name for c in CAMPAIGNS.columns}


@pytest.fixture
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    with engine() as connection:
        yield connection


def rows(change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda r: r) -> pa.Table:
    """The truth's campaigns as a target holds them after ``change`` (on their rows as dicts)."""
    return pa.Table.from_pylist(change(TRUTH.to_pylist()), schema=TRUTH.schema)


def replica(
    db: duckdb.DuckDBPyConnection,
    found: pa.Table,
    *,
    deleted: str | None = None,
    own: pa.Table | None = None,
    columns: dict[str, str] = ALL,
) -> tuple[Differences, list[Any]]:
    comparison = Comparison(db, CAMPAIGNS, TRUTH, found, own)
    try:
        return comparison.replica(columns, deleted, own is not None)
    finally:
        comparison.close()


def test_an_identical_target_has_no_difference(db: duckdb.DuckDBPyConnection) -> None:
    out, flagged = replica(db, rows())
    assert out == Differences(found_rows=5) and flagged == []


def test_each_kind_of_difference_is_listed_by_key(db: duckdb.DuckDBPyConnection) -> None:
    def harm(r: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r[1]["campaign_name"] = "Changed"
        extra = {**r[2], "campaign_id": 9}
        return [r[0], r[1], r[2], r[2], r[3], extra]  # 5 gone, 3 twice, 9 extra

    out, _ = replica(db, rows(harm))
    assert (out.missing, out.unexpected, out.duplicated) == ([5], [9], [3])
    assert out.differing == {2: {"campaign_name": ("Spring Refresh", "Changed")}}
    assert out.found_rows == 6 and out.custom_rows == 0


def test_a_null_key_and_a_key_of_the_users_own_are_told_apart(db: duckdb.DuckDBPyConnection) -> None:
    mine = CUSTOM_ID_FLOOR + 7
    out, _ = replica(db, rows(lambda r: [*r, {**r[0], "campaign_id": None}, {**r[0], "campaign_id": mine}]))
    assert out.unexpected == [None] and out.missing == [] and out.custom_rows == 1
    own = pa.Table.from_pylist([{**TRUTH.to_pylist()[0], "campaign_id": mine, "campaign_name": "Mine"}])
    out, _ = replica(db, rows(lambda r: [*r, {**r[0], "campaign_id": mine}]), own=own)
    assert out.differing == {mine: {"campaign_name": ("Mine", "New Year Kickoff")}} and out.custom_rows == 0
    out, _ = replica(db, rows(), own=own)
    assert out.missing == [mine]


def test_differences_of_key_ranges_add_up() -> None:
    first = Differences(
        missing=[1], duplicated=[2], differing={3: {}}, not_closed=[(4, 0)], custom_rows=1, found_rows=5
    )
    second = Differences(unexpected=[9], differing={8: {}}, deletion_records=[7], custom_rows=2, found_rows=6)
    first.merge(second)
    assert first == Differences(
        missing=[1],
        unexpected=[9],
        duplicated=[2],
        differing={3: {}, 8: {}},
        not_closed=[(4, 0)],
        deletion_records=[7],
        custom_rows=3,
        found_rows=11,
    )


def test_differences_of_key_ranges_keep_both_sides_of_each_kind() -> None:
    first = Differences(
        missing=[1], unexpected=[2], duplicated=[3], differing={4: {}}, not_closed=[(5, 0)], deletion_records=[6]
    )
    first.merge(
        Differences(
            missing=[11],
            unexpected=[12],
            duplicated=[13],
            differing={14: {}},
            not_closed=[(15, 0)],
            deletion_records=[16],
        )
    )
    assert first == Differences(
        missing=[1, 11],
        unexpected=[2, 12],
        duplicated=[3, 13],
        differing={4: {}, 14: {}},
        not_closed=[(5, 0), (15, 0)],
        deletion_records=[6, 16],
    )


def test_a_target_that_stores_values_as_text_compares_by_value(db: duckdb.DuckDBPyConnection) -> None:
    text = pa.table({n: pc.cast(TRUTH[n], pa.string()) for n in TRUTH.column_names})  # PostgreSQL's COPY, as CSV
    out, _ = replica(db, text)
    assert out == Differences(found_rows=5)
    broken = text.set_column(4, "budget", pa.array(["abc", *text["budget"].to_pylist()[1:]]))
    out, _ = replica(db, broken)  # an uncastable value is a difference, never an error
    assert out.differing == {1: {"budget": (Decimal("36631.00"), None)}}


def test_a_decimal_column_of_more_places_is_compared_by_its_exact_value(db: duckdb.DuckDBPyConnection) -> None:
    wider = pc.cast(TRUTH["budget"], pa.decimal128(20, 4))
    assert replica(db, TRUTH.set_column(4, "budget", wider))[0] == Differences(found_rows=5)
    off = pa.array([Decimal("36631.0049"), *wider.to_pylist()[1:]], pa.decimal128(20, 4))
    out, _ = replica(db, TRUTH.set_column(4, "budget", off))  # not rounded to the source's two places
    assert out.differing == {1: {"budget": (Decimal("36631.00"), Decimal("36631.0049"))}}


def test_a_time_zone_aware_column_is_compared_as_the_same_instant(db: duckdb.DuckDBPyConnection) -> None:
    aware = TRUTH.set_column(6, "updated_at", pc.assume_timezone(TRUTH["updated_at"], "UTC"))
    assert replica(db, aware)[0] == Differences(found_rows=5)
    tokyo = pa.array(
        [
            v.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=9)))
            for v in TRUTH["updated_at"].to_pylist()
        ],
        pa.timestamp("s", tz="Asia/Tokyo"),
    )
    assert replica(db, TRUTH.set_column(6, "updated_at", tokyo))[0] == Differences(found_rows=5)


def test_a_time_zone_aware_column_is_read_without_a_cast() -> None:
    updated_at = CAMPAIGNS.columns[6]
    assert _cast(updated_at, '"u"', "TIMESTAMP WITH TIME ZONE") == "timezone('UTC', \"u\")"
    assert _cast(updated_at, '"u"', "VARCHAR") == "timezone('UTC', TRY_CAST(\"u\" AS TIMESTAMPTZ))"


def test_a_target_column_whose_name_holds_a_double_quote_is_read(db: duckdb.DuckDBPyConnection) -> None:
    name = 'the "name"'
    found = rows(lambda r: [{**r[0], "campaign_name": "Changed"}, *r[1:]]).rename_columns(
        [(name if n == "campaign_name" else n) for n in TRUTH.column_names]
    )
    out, _ = replica(db, found, columns={**ALL, "campaign_name": name})
    assert out == Differences(differing={1: {"campaign_name": ("New Year Kickoff", "Changed")}}, found_rows=5)


def flagged_by(db: duckdb.DuckDBPyConnection, values: pa.Array) -> list[Any]:
    out, flagged = replica(db, rows().append_column("_deleted", values), deleted="_deleted")
    assert out.missing == flagged  # a flagged row is not live
    return flagged


@pytest.mark.parametrize(
    ("values", "keys"),
    [
        (pa.array([False, True, None, False, True]), [2, 5]),
        (pa.array([0, 1, None, 0, 2], pa.int32()), [2, 5]),
        (pa.array([0, 1, None, 0, -1], pa.int64()), [2, 5]),
        (pa.array([None, dt.datetime(2024, 5, 1), None, None, dt.datetime(2024, 5, 2)]), [2, 5]),
        (pa.array(["false", "true", "", "0", "Yes"]), [2, 5]),
        (pa.array(["F", "1", None, " no ", "t"]), [2, 5]),
        (pa.array(["n", "y", "N", "off", "FALSE"]), [2, 4]),
    ],
    ids=["boolean", "int32", "int64", "timestamp", "text", "text letters", "text words"],
)
def test_a_deleted_marker_of_any_type_marks_its_rows(
    db: duckdb.DuckDBPyConnection, values: pa.Array, keys: list[int]
) -> None:
    assert flagged_by(db, values) == keys


def test_a_marker_of_an_unsigned_or_odd_type_is_read_by_its_text() -> None:
    assert marker('"m"', "UTINYINT") == 'coalesce("m" <> 0, false)'
    assert marker('"m"', "BOOLEAN") == 'coalesce("m", false)'
    assert "NOT IN ('', 'false', 'f', '0', 'no', 'n')" in marker('"m"', "VARCHAR")


@pytest.mark.parametrize(
    "found_type", ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"]
)
def test_a_marker_of_any_integer_width_is_read_as_a_number(found_type: str) -> None:
    assert marker('"m"', found_type) == 'coalesce("m" <> 0, false)'


def reads_as_text(db: duckdb.DuckDBPyConnection) -> bool:
    """Whether the last comparison's view of the target casts a column to text, row by row."""
    (sql,) = db.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'found_all'").fetchall()[0]
    return "AS VARCHAR" in str(sql)


@pytest.mark.parametrize(
    ("values", "as_text"),
    [
        (pa.array([False, True, None, False, True]), False),
        (pa.array([0, 1, None, 0, 2], pa.int8()), False),
        (pa.array([0, 1, None, 0, 2], pa.uint32()), False),
        (pa.array(["0", "1", None, "0", "2"]), True),
    ],
    ids=["boolean", "int8", "uint32", "text"],
)
def test_a_boolean_or_integer_marker_is_read_by_its_type_without_a_cast_to_text(
    db: duckdb.DuckDBPyConnection, values: pa.Array, as_text: bool
) -> None:
    assert flagged_by(db, values) == [2, 5]
    assert reads_as_text(db) is as_text


def test_a_boolean_column_stored_as_text_or_number_compares_by_truth(db: duckdb.DuckDBPyConnection) -> None:
    table = TABLES_BY_NAME["email_activity"]
    expected = pa.table({"activity_id": [1, 2, 3, 4], "opened": [True, False, True, None]})
    for found in (["t", "f", "yes", None], ["1", "0", "Y", None], [1, 0, 1, None]):
        comparison = Comparison(db, table, expected, pa.table({"activity_id": [1, 2, 3, 4], "opened": found}))
        out, _ = comparison.replica({"activity_id": "activity_id", "opened": "opened"}, None, False)
        comparison.close()
        assert out.differing == {}, found


def test_a_boolean_column_stored_as_text_is_true_only_for_the_words_of_truth(db: duckdb.DuckDBPyConnection) -> None:
    table = TABLES_BY_NAME["email_activity"]
    expected = pa.table({"activity_id": [1, 2, 3, 4], "opened": [True, True, False, False]})
    found = pa.table({"activity_id": [1, 2, 3, 4], "opened": ["YES", "on", "off", "nope"]})
    comparison = Comparison(db, table, expected, found)
    out, _ = comparison.replica({"activity_id": "activity_id", "opened": "opened"}, None, False)
    comparison.close()
    assert out.differing == {2: {"opened": (True, False)}}  # any other word is false, never unknown


def test_closing_a_comparison_releases_the_tables_it_registered(db: duckdb.DuckDBPyConnection) -> None:
    own = pa.Table.from_pylist([{**TRUTH.to_pylist()[0], "campaign_id": CUSTOM_ID_FLOOR}])
    replica(db, rows(), own=own)
    readable = []
    for name in ("truth_rows", "found_rows", "own_rows"):
        try:
            db.execute(f"SELECT count(*) FROM {name}")
            readable.append(name)
        except duckdb.CatalogException:
            pass
    assert readable == []


def test_a_column_left_out_of_the_mapping_is_not_compared(db: duckdb.DuckDBPyConnection) -> None:
    renamed = rows(lambda r: [{**x, "campaign_name": "other"} for x in r]).rename_columns(
        [("name" if n == "campaign_name" else n) for n in TRUTH.column_names]
    )
    columns = {n: n for n in ALL if n != "campaign_name"}
    assert replica(db, renamed, columns=columns)[0] == Differences(found_rows=5)
    assert set(replica(db, renamed, columns={**columns, "campaign_name": "name"})[0].differing) == {1, 2, 3, 4, 5}


def test_a_replica_mapped_by_its_key_alone_is_compared_by_its_keys_alone(db: duckdb.DuckDBPyConnection) -> None:
    found = rows(lambda r: [{**x, "campaign_name": "other"} for x in r[:4]])
    assert replica(db, found, columns={"campaign_id": "campaign_id"})[0] == Differences(missing=[5], found_rows=4)


# --- scd2 -----------------------------------------------------------------------------------------------

VERSIONS = Truth(7, 1, Profile.CDC).versions("web_sessions")  # 505 versions, 12 of deleted keys


def snapshot(change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda r: r) -> pa.Table:
    """The truth's versions as dbt writes them: dbt_valid_from, dbt_valid_to, a deleted key's last version closed
    at the run's time."""
    out = []
    for row in VERSIONS.to_pylist():
        row["dbt_valid_from"], row["dbt_valid_to"] = row.pop(VALID_FROM), row.pop(VALID_TO)
        if row.pop(CLOSED):
            row["dbt_valid_to"] = dt.datetime(2030, 1, 1)
        out.append(row)
    return pa.Table.from_pylist(change(out))


def scd2(db: duckdb.DuckDBPyConnection, found: pa.Table, validity: Validity | None = None) -> Differences:
    columns = {c.name: c.name for c in SESSIONS.columns}
    comparison = Comparison(db, SESSIONS, VERSIONS, found)
    try:
        return comparison.scd2(columns, validity or Validity("dbt_valid_from", "dbt_valid_to"))
    finally:
        comparison.close()


def closed_keys() -> list[int]:
    return sorted(k for k, c in zip(VERSIONS["session_id"].to_pylist(), VERSIONS[CLOSED].to_pylist(), strict=True) if c)


def test_a_correct_snapshot_has_no_difference(db: duckdb.DuckDBPyConnection) -> None:
    assert scd2(db, snapshot()) == Differences(found_rows=505)


def test_lost_extra_and_doubled_versions_are_listed_as_versions(db: duckdb.DuckDBPyConnection) -> None:
    def harm(r: list[dict[str, Any]]) -> list[dict[str, Any]]:
        extra = {**r[1], "session_id": 5000}
        return [r[0], r[0], *r[2:], extra]  # version 1 lost, version 0 twice, a version of no key

    out = scd2(db, snapshot(harm))
    lost, doubled = VERSIONS.slice(1, 1).to_pylist()[0], VERSIONS.slice(0, 1).to_pylist()[0]
    assert out.missing == [(lost["session_id"], lost[VALID_FROM])]
    assert out.duplicated == [(doubled["session_id"], doubled[VALID_FROM])]
    assert out.unexpected == [(5000, lost[VALID_FROM])]
    assert out.differing == {} and out.not_closed == [] and out.found_rows == 506


def test_a_deleted_keys_version_left_open_is_named_and_its_close_time_is_free(db: duckdb.DuckDBPyConnection) -> None:
    key = closed_keys()[0]

    def reopen(r: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in r:
            if row["session_id"] == key and row["dbt_valid_to"] == dt.datetime(2030, 1, 1):
                row["dbt_valid_to"] = None
        return r

    out = scd2(db, snapshot(reopen))
    assert [k for k, _ in out.not_closed] == [key] and out.differing == {}


def test_current_versions_may_carry_a_far_future_date_or_the_one_named(db: duckdb.DuckDBPyConnection) -> None:
    def current(value: dt.datetime) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
        return lambda r: [{**x, "dbt_valid_to": x["dbt_valid_to"] or value} for x in r]

    assert scd2(db, snapshot(current(dt.datetime(9999, 12, 31)))) == Differences(found_rows=505)
    named = snapshot(current(dt.datetime(2999, 12, 31)))
    assert len(scd2(db, named).differing) > 400  # not told: every current version reads as closed in 2999
    told = Validity("dbt_valid_from", "dbt_valid_to", current=dt.datetime(2999, 12, 31))
    assert scd2(db, named, told) == Differences(found_rows=505)
    far = snapshot(current(dt.datetime(9999, 12, 31)))
    assert len(scd2(db, far, told).differing) > 400  # told another date: 9999 is then a real end


def test_deletion_records_are_not_versions_and_must_be_of_deleted_keys(db: duckdb.DuckDBPyConnection) -> None:
    keys = closed_keys()

    def records(extra: list[int]) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
        def add(r: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = [{**x, "dbt_is_deleted": "False"} for x in r]
            last = {x["session_id"]: x for x in out}
            return out + [
                {**last[k], "dbt_is_deleted": "True", "dbt_valid_from": dt.datetime(2030, 1, 1), "dbt_valid_to": None}
                for k in [*keys, *extra]
            ]

        return add

    validity = Validity("dbt_valid_from", "dbt_valid_to", deleted="dbt_is_deleted")
    assert scd2(db, snapshot(records([])), validity) == Differences(found_rows=505 + len(keys))
    live = next(k for k in VERSIONS["session_id"].to_pylist() if k not in keys)
    out = scd2(db, snapshot(records([live])), validity)
    assert out.deletion_records == [live] and out.unexpected == [] and out.missing == []
    assert scd2(db, snapshot(records([])), None).unexpected != []  # unmarked, a deletion record is a version


def test_a_version_whose_values_differ_is_listed_with_each_differing_column(db: duckdb.DuckDBPyConnection) -> None:
    first, second = VERSIONS.slice(0, 2).to_pylist()

    def harm(r: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r[0]["customer_id"] += 1  # the first column after the key
        r[1]["page_views"] += 1
        return r

    out = scd2(db, snapshot(harm))
    assert out.differing == {
        (first["session_id"], first[VALID_FROM]): {"customer_id": (first["customer_id"], first["customer_id"] + 1)},
        (second["session_id"], second[VALID_FROM]): {"page_views": (second["page_views"], second["page_views"] + 1)},
    }
    assert out.missing == out.unexpected == out.duplicated == out.not_closed == [] and out.found_rows == 505


@pytest.mark.parametrize("valid_to", [dt.datetime(2030, 1, 1), None], ids=["closed", "left open"])
def test_a_deleted_keys_last_version_lists_its_differing_values_but_not_its_close_time(
    db: duckdb.DuckDBPyConnection, valid_to: dt.datetime | None
) -> None:
    key = closed_keys()[0]
    (version,) = [v for v in VERSIONS.to_pylist() if v["session_id"] == key and v[CLOSED]]
    at = (key, version[VALID_FROM])

    def harm(r: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in r:
            if (row["session_id"], row["dbt_valid_from"]) == at:
                row["page_views"] += 1
                row["dbt_valid_to"] = valid_to  # the truth leaves the close time free
        return r

    out = scd2(db, snapshot(harm))
    assert out.differing == {at: {"page_views": (version["page_views"], version["page_views"] + 1)}}
    assert out.not_closed == ([] if valid_to else [at]) and out.missing == out.unexpected == []


def test_a_boolean_marker_of_deletion_records_is_read_without_a_cast_to_text(db: duckdb.DuckDBPyConnection) -> None:
    keys = closed_keys()

    def records(r: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = [{**x, "dbt_is_deleted": False} for x in r]
        last = {x["session_id"]: x for x in out}
        deleted = {"dbt_is_deleted": True, "dbt_valid_from": dt.datetime(2030, 1, 1), "dbt_valid_to": None}
        return out + [{**last[k], **deleted} for k in keys]

    validity = Validity("dbt_valid_from", "dbt_valid_to", deleted="dbt_is_deleted")
    assert scd2(db, snapshot(records), validity) == Differences(found_rows=505 + len(keys))
    assert not reads_as_text(db)
