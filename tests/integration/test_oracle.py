"""The oracle on real engines: a naive watermark pipeline is caught with the exact late rows and unreturned hard
deletes, a correct one passes, every kind of deliberate damage is named, and sources and targets mix engines."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import duckdb
import pytest

from airflow_source_simulator import verify_target
from airflow_source_simulator.data import stream
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.data.generate import state
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.oracle import Report
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.sources import REPO, postgres_session

RAW = {"jaffle_shop": "raw_jaffle_shop", "jaffle_crm": "raw_jaffle_crm"}
QUIET = logging.getLogger("tests.oracle")


def ingestion() -> Any:
    """The example ingestion DAG's module: its copy_increments is the pipeline under test."""
    spec = importlib.util.spec_from_file_location("ingestion", REPO / "example_dags" / "source_simulator_ingestion.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_pipeline(source: Path, warehouse: Path, days: int, profile: str, **options: Any) -> None:
    """Load the source and run the example's ingestion after the baseline and after every day."""
    copy = ingestion().copy_increments
    simulator = Simulator(DuckDBSession.for_database(str(source)), profile=profile, log=QUIET)
    simulator.load_baseline()
    for day in range(days + 1):
        if day:
            simulator.apply_delta(day)
        with duckdb.connect(str(source), read_only=True) as src, duckdb.connect(str(warehouse)) as wh:
            copy(src, wh, **options)


def check(source: Path, warehouse: Path, **options: Any) -> Report:
    return verify_target(
        source_session=DuckDBSession.for_database(str(source)),
        target_session=DuckDBSession.for_database(str(warehouse)),
        target_schema=options.pop("target_schema", RAW),
        log=QUIET,
        **options,
    )


def generator_late_and_deleted(days: int) -> tuple[set[int], set[int]]:
    """From the generator alone: web sessions that arrive with an updated_at no later than the table's newest
    before their day, and sessions hard-deleted and not back by the last day."""
    late: set[int] = set()
    gone: set[int] = set()
    for day in range(1, days + 1):
        before = state(day - 1, 1, "cdc").table("web_sessions")["updated_at"].max()
        change = day_delta(day, 1, profile="cdc")["web_sessions"]
        inserted = change.inserted
        late |= {int(k) for k, u in zip(inserted["session_id"], inserted["updated_at"], strict=True) if u <= before}
        gone = (gone | {int(k) for k in change.hard_deleted}) - {int(k) for k in inserted["session_id"]}
    return late, gone


def test_a_naive_watermark_pipeline_is_caught_with_the_exact_late_rows_and_hard_deletes(tmp_path: Path) -> None:
    source, warehouse = tmp_path / "source.duckdb", tmp_path / "warehouse.duckdb"
    run_pipeline(source, warehouse, 7, "cdc", look_back=None, detect_deletes=False)
    report = check(source, warehouse, sample_size=1000)
    assert not report.ok
    bad = [t for t in report.tables if not t.ok]
    assert [t.table for t in bad] == ["jaffle_crm.web_sessions"]
    sessions = bad[0].to_dict()
    late, gone = generator_late_and_deleted(7)
    missing = sessions["rows_missing"]
    assert {s["key"] for s in missing["sample"]} == late and missing["causes"] == {"late_arriving": len(late)}
    extra = sessions["rows_the_source_does_not_hold"]
    assert {s["key"] for s in extra["sample"]} == gone and extra["causes"] == {"hard_delete": len(gone)}
    assert len(late) > 10 and len(gone) > 3
    assert any(
        line.startswith(
            f"jaffle_crm.web_sessions: {len(late)} rows missing — all late-arriving (updated_at before the "
            "previous day's watermark): an updated_at > watermark load needs a look-back of at least 1 day"
        )
        for line in report.lines()
    )


def test_a_pipeline_with_a_look_back_and_delete_detection_passes(tmp_path: Path) -> None:
    source, warehouse = tmp_path / "source.duckdb", tmp_path / "warehouse.duckdb"
    run_pipeline(source, warehouse, 7, "cdc")
    report = check(source, warehouse)
    assert report.ok, report.lines()
    assert report.to_dict()["tables"]["jaffle_shop.customers"]["expected_rows"] > 0


def _copy_source(source: Path, target: Path) -> None:
    """A perfect replica: the source's eight tables copied as they are (the ledger left out)."""
    with duckdb.connect(str(target)) as db:
        db.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        for schema in RAW:
            db.execute(f"CREATE SCHEMA {RAW[schema]}")
            for (table,) in db.execute(
                f"SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND schema_name = '{schema}' "
                "AND table_name <> 'source_simulator_ledger'"
            ).fetchall():
                db.execute(f"CREATE TABLE {RAW[schema]}.{table} AS SELECT * FROM src.{schema}.{table}")


@pytest.fixture(scope="module")
def day_three(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("oracle")
    source = folder / "source.duckdb"
    simulator = Simulator(DuckDBSession.for_database(str(source)), log=QUIET)
    simulator.load_baseline()
    for day in (1, 2, 3):
        simulator.apply_delta(day)
    return source


def _stale_customer(db: duckdb.DuckDBPyConnection) -> None:
    """Put back a customer updated on day 3 as it was at the end of day 2."""
    old = state(2, 1).table("customers")
    row = {name: values[old["customer_id"] == STALE][0] for name, values in old.items()}
    db.execute(
        "UPDATE raw_jaffle_shop.customers SET first_name = ?, last_name = ?, email = ?, "
        "updated_at = TIMESTAMP '1970-01-01' + to_seconds(?) WHERE customer_id = ?",
        [str(row["first_name"]), str(row["last_name"]), str(row["email"]), int(row["updated_at"]), STALE],
    )


def _sql(statement: str) -> Callable[[duckdb.DuckDBPyConnection], None]:
    def harm(db: duckdb.DuckDBPyConnection) -> None:
        db.execute(statement)

    return harm


@dataclass(frozen=True)
class Damage:
    harm: Callable[[duckdb.DuckDBPyConnection], None]
    key: int  # the key it touches
    table: str
    finding: str
    cause: str


STALE = int(day_delta(3)["customers"].updated["customer_id"][0])  # a customer updated on day 3
DAMAGE = {
    "one changed value": Damage(
        _sql("UPDATE raw_jaffle_shop.products SET name = 'Changed' WHERE product_id = 7"),
        7,
        "jaffle_shop.products",
        "rows_differing",
        "unexplained",
    ),
    "one missing row": Damage(
        _sql("DELETE FROM raw_jaffle_shop.orders WHERE order_id = 42"),
        42,
        "jaffle_shop.orders",
        "rows_missing",
        "unexplained",
    ),
    "one extra row": Damage(
        _sql(
            "INSERT INTO raw_jaffle_crm.campaigns VALUES (9999, 'Extra', DATE '2024-04-01', DATE '2024-05-01', "
            "10.00, TIMESTAMP '2024-04-01 10:00:00', TIMESTAMP '2024-04-01 10:00:00', NULL)"
        ),
        9999,
        "jaffle_crm.campaigns",
        "rows_the_source_does_not_hold",
        "not_in_source",
    ),
    "one stale version": Damage(_stale_customer, STALE, "jaffle_shop.customers", "rows_differing", "stale_version"),
}


@pytest.fixture(params=["whole", "by key range"])
def chunks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The truth whole, or in key ranges of 500 keys as a state above the streaming threshold is checked."""
    if request.param == "by key range":
        monkeypatch.setattr(stream, "WHOLE_STATE_ROWS", 100)
        monkeypatch.setattr(stream, "CHUNK_KEYS", 500)
        assert len(stream.key_ranges("order_items", 3, 1)) == 4  # 1,502 items
    return str(request.param)


@pytest.mark.parametrize("damage", DAMAGE)
def test_each_kind_of_damage_is_named(day_three: Path, tmp_path: Path, damage: str, chunks: str) -> None:
    target = tmp_path / "target.duckdb"
    _copy_source(day_three, target)
    assert check(day_three, target).ok
    harm = DAMAGE[damage]
    with duckdb.connect(str(target)) as db:
        harm.harm(db)
    report = check(day_three, target)
    bad = {t.table: t.to_dict() for t in report.tables if not t.ok}
    assert list(bad) == [harm.table]
    found = bad[harm.table][harm.finding]
    assert found["count"] == 1 and found["causes"] == {harm.cause: 1}
    assert found["sample"][0]["key"] == harm.key
    if damage == "one changed value":
        assert found["sample"][0]["columns"]["name"]["found"] == "Changed"
    if damage == "one stale version":
        assert found["sample"][0]["detail"] == "the update of day 3 is missing"


def test_keys_outside_every_range_are_still_counted(day_three: Path, tmp_path: Path, chunks: str) -> None:
    """Keys below the first range, above the last and NULL are the target's too: read with the first range,
    and with the last."""
    target = tmp_path / "target.duckdb"
    _copy_source(day_three, target)
    with duckdb.connect(str(target)) as db:
        db.execute(
            "INSERT INTO raw_jaffle_shop.order_items SELECT * REPLACE (-5 AS order_item_id) FROM "
            "raw_jaffle_shop.order_items WHERE order_item_id = 1"
        )
        db.execute(
            "INSERT INTO raw_jaffle_shop.order_items SELECT * REPLACE (NULL AS order_item_id) FROM "
            "raw_jaffle_shop.order_items WHERE order_item_id = 2"
        )
        db.execute("DELETE FROM raw_jaffle_shop.order_items WHERE order_item_id IN (1, 700, 1400)")
    report = check(day_three, target)
    items = {t.table: t.to_dict() for t in report.tables}["jaffle_shop.order_items"]
    assert items["rows_missing"]["count"] == 3
    assert items["rows_the_source_does_not_hold"]["count"] == 2
    assert items["found_rows"] == items["expected_rows"] - 1


def test_a_missing_column_is_named(day_three: Path, tmp_path: Path) -> None:
    target = tmp_path / "target.duckdb"
    _copy_source(day_three, target)
    with duckdb.connect(str(target)) as db:
        db.execute("ALTER TABLE raw_jaffle_shop.orders DROP COLUMN status")
    report = check(day_three, target)
    orders = next(t for t in report.tables if t.table == "jaffle_shop.orders")
    assert not report.ok and orders.missing_columns == ["status"]
    assert "jaffle_shop.orders: column status missing from raw_jaffle_shop.orders" in report.lines()


def test_the_loaders_own_columns_are_ignored_by_pattern_and_renames_are_followed(
    day_three: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target.duckdb"
    _copy_source(day_three, target)
    with duckdb.connect(str(target)) as db:
        db.execute("ALTER TABLE raw_jaffle_shop.customers ADD COLUMN _dlt_load_id VARCHAR DEFAULT 'x'")
        db.execute("ALTER TABLE raw_jaffle_shop.customers RENAME COLUMN email TO email_address")
    assert not check(day_three, target).ok
    report = check(day_three, target, ignore_columns=["_dlt_*"], column_names={"customers.email": "email_address"})
    assert report.ok, report.lines()
    customers = next(t for t in report.tables if t.table == "jaffle_shop.customers")
    assert customers.ignored_columns == ["_dlt_load_id"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "changelog"}, "mode='changelog' is not a target mode: give one of replica, scd2"),
        ({"table_name": "{table}{table.nope}"}, "has the field {table.nope}: the only fields are {schema} and {table}"),
        (
            {"target_schema": {"jaffle_shop": "raw_jaffle_shop", "JAFFLE_SHOP": "raw_jaffle_crm"}},
            "target_schema names the source schema 'jaffle_shop' twice",
        ),
        ({"column_names": {"e_mail": "email"}}, "'e_mail' is not a column of any source table"),
        ({"table_name": "events"}, "table_name='events' must hold {table}"),
        ({"deleted_column": "deleted_at"}, "deleted_column='deleted_at' is a column of the source"),
        ({"tables": ["jaffle_shop.sessions"]}, "tables names 'jaffle_shop.sessions', which is not a source table"),
    ],
    ids=[
        "unknown mode",
        "an attribute in table_name",
        "a schema named twice",
        "a rename of no column",
        "no {table}",
        "a source column as the delete marker",
        "an unknown table",
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_written(
    day_three: Path, tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    target = tmp_path / "target.duckdb"
    _copy_source(day_three, target)
    before = (day_three.read_bytes(), target.read_bytes())
    with pytest.raises(SimulatorError) as refused:
        check(day_three, target, **options)
    assert message in str(refused.value)
    assert (day_three.read_bytes(), target.read_bytes()) == before


def test_hard_deletes_kept_as_flagged_rows_pass_when_the_marker_is_named(tmp_path: Path) -> None:
    source, warehouse = tmp_path / "source.duckdb", tmp_path / "warehouse.duckdb"
    run_pipeline(source, warehouse, 4, "cdc", detect_deletes=False)  # deleted rows stay: flag them, as Fivetran does
    _, gone = generator_late_and_deleted(4)
    keys = ", ".join(str(k) for k in sorted(gone))
    with duckdb.connect(str(warehouse)) as db:
        db.execute("ALTER TABLE raw_jaffle_crm.web_sessions ADD COLUMN _fivetran_deleted BOOLEAN DEFAULT false")
        db.execute(f"UPDATE raw_jaffle_crm.web_sessions SET _fivetran_deleted = true WHERE session_id IN ({keys})")
    assert not check(source, warehouse, ignore_columns=["_fivetran_*"]).ok, "unflagged, they are rows too many"
    report = check(source, warehouse, deleted_column="_fivetran_deleted")
    assert report.ok, report.lines()
    with duckdb.connect(str(warehouse)) as db:
        db.execute(f"UPDATE raw_jaffle_crm.web_sessions SET _fivetran_deleted = false WHERE session_id = {min(gone)}")
    sessions = next(t for t in check(source, warehouse, deleted_column="_fivetran_deleted").tables if not t.ok)
    found = sessions.to_dict()
    assert found["hard-deleted_rows_not_flagged"]["count"] == 1
    assert found["rows_the_source_does_not_hold"]["causes"] == {"hard_delete": 1}


def test_a_postgres_source_checked_against_a_duckdb_target(pg_conn_id: str, tmp_path: Path) -> None:
    Simulator(postgres_session(pg_conn_id), profile="cdc", log=QUIET).apply_delta(3, fast_forward=True)
    target = tmp_path / "target.duckdb"
    Simulator(DuckDBSession.for_database(str(target)), profile="cdc", log=QUIET).apply_delta(3, fast_forward=True)
    report = verify_target(
        source_session=postgres_session(pg_conn_id),
        target_session=DuckDBSession.for_database(str(target)),
        target_schema={"jaffle_shop": "jaffle_shop", "jaffle_crm": "jaffle_crm"},
        log=QUIET,
    )
    assert report.ok, report.lines()
    assert (report.day, report.profile) == (3, "cdc")


def test_a_duckdb_source_checked_against_a_postgres_target(pg_conn_id: str, tmp_path: Path) -> None:
    source = tmp_path / "source.duckdb"
    Simulator(DuckDBSession.for_database(str(source)), profile="cdc", log=QUIET).apply_delta(6, fast_forward=True)
    Simulator(postgres_session(pg_conn_id), profile="cdc", log=QUIET).apply_delta(6, fast_forward=True)
    schemas = {"jaffle_shop": "jaffle_shop", "jaffle_crm": "jaffle_crm"}
    report = verify_target(
        source_session=DuckDBSession.for_database(str(source)),
        target_session=postgres_session(pg_conn_id),
        target_schema=schemas,
        log=QUIET,
    )
    assert report.ok, report.lines()
    session = postgres_session(pg_conn_id)
    with session.hold():
        session.hook.run("UPDATE jaffle_shop.customers SET loyalty_tier = NULL WHERE loyalty_tier IS NOT NULL")
    damaged = verify_target(
        source_session=DuckDBSession.for_database(str(source)),
        target_session=postgres_session(pg_conn_id),
        target_schema=schemas,
        log=QUIET,
    )
    customers = next(t for t in damaged.tables if not t.ok).to_dict()
    assert customers["rows_differing"]["causes"] == {"schema_change": customers["rows_differing"]["count"]}


class RecordingTask:
    """What an operator's execute() gets as ``context["ti"]``: it records what is pushed to XCom."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_the_operator_fails_naming_the_causes_and_keeps_the_whole_report_in_xcom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_source_simulator import VerifyTargetOperator
    from airflow_source_simulator.operators.verify import TargetMismatchError

    source, warehouse = tmp_path / "source.duckdb", tmp_path / "warehouse.duckdb"
    run_pipeline(source, warehouse, 3, "cdc", look_back=None, detect_deletes=False)
    monkeypatch.setenv("AIRFLOW_CONN_SIM_SOURCE", f'{{"conn_type": "duckdb", "host": "{source}"}}')
    monkeypatch.setenv("AIRFLOW_CONN_SIM_WAREHOUSE", f'{{"conn_type": "duckdb", "host": "{warehouse}"}}')
    task = VerifyTargetOperator(
        task_id="check", conn_id="sim_source", target_conn_id="sim_warehouse", target_schema=RAW
    )
    ti = RecordingTask()
    with pytest.raises(TargetMismatchError, match=r"jaffle_crm\.web_sessions: \d+ rows missing — all late-arriving"):
        task.execute(cast(Any, {"ti": ti}))
    report = ti.pushed["return_value"]
    assert report["ok"] is False and report["profile"] == "cdc" and report["day"] == 3
    assert report["tables"]["jaffle_crm.web_sessions"]["rows_missing"]["causes"]["late_arriving"] > 0
    assert report["tables"]["jaffle_shop.customers"]["ok"] is True


def test_the_operator_checks_a_day_without_any_source_connection(
    day_three: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_source_simulator import VerifyTargetOperator

    warehouse = tmp_path / "warehouse.duckdb"
    _copy_source(day_three, warehouse)
    monkeypatch.delenv("AIRFLOW_CONN_DUCKDB_DEFAULT", raising=False)  # the default source must not be looked up
    monkeypatch.setenv("AIRFLOW_CONN_SIM_WAREHOUSE", f'{{"conn_type": "duckdb", "host": "{warehouse}"}}')
    task = VerifyTargetOperator(task_id="check", day=3, target_conn_id="sim_warehouse", target_schema=RAW)
    report = task.execute(cast(Any, {"ti": RecordingTask()}))
    assert report["ok"] is True and report["day"] == 3 and report["scale"] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"conn_id": "sim_source", "day": 3}, "give either the source (conn_id)"),
        ({"conn_id": "sim_source", "scale": 5}, "scale=5 and profile=None describe the state to check with day="),
        ({"conn_id": "sim_source", "profile": "cdc"}, "scale=None and profile='cdc' describe the state"),
    ],
    ids=["a source and a day", "a scale without a day", "a profile without a day"],
)
def test_the_operator_refuses_a_source_with_a_described_state_before_reading_anything(
    day_three: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: dict[str, Any], message: str
) -> None:
    from airflow_source_simulator import VerifyTargetOperator
    from airflow_source_simulator.errors import ArgumentError

    warehouse = tmp_path / "warehouse.duckdb"
    _copy_source(day_three, warehouse)
    before = (day_three.read_bytes(), warehouse.read_bytes())
    monkeypatch.setenv("AIRFLOW_CONN_SIM_SOURCE", f'{{"conn_type": "duckdb", "host": "{day_three}"}}')
    monkeypatch.setenv("AIRFLOW_CONN_SIM_WAREHOUSE", f'{{"conn_type": "duckdb", "host": "{warehouse}"}}')
    task = VerifyTargetOperator(task_id="check", target_conn_id="sim_warehouse", target_schema=RAW, **arguments)
    with pytest.raises(ArgumentError) as refused:
        task.execute(cast(Any, {"ti": RecordingTask()}))
    assert message in str(refused.value)
    assert (day_three.read_bytes(), warehouse.read_bytes()) == before
