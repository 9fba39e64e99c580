"""Bad input, through the operators (values as templates render them, at execute time) and the Simulator:
each is refused with a message naming the value and what is allowed, and the database is unchanged.

The operators' parse-time checks (a literal bad day, scale or schema in a DAG file) are in
tests/unit/test_operators.py; the Simulator's bad days in tests/integration/test_operations.py. This is the matrix of
everything a user can hand over, on a source loaded to day 1.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import duckdb
import pytest

from airflow_source_simulator.core.names import RESERVED_WORDS, validate_schema_name
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.operators import (
    ApplyDeltaOperator,
    LoadBaselineOperator,
    ResetOperator,
    StatusOperator,
)
from airflow_source_simulator.schema import LEDGER_TABLE
from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator
from tests.support.dags import NO_CONTEXT
from tests.support.harness import duckdb_snapshot, holds_state, postgres_snapshot
from tests.support.postgres import PostgresServer
from tests.support.sources import postgres_session

CONN_ID = "bad_input_source"


@dataclass(frozen=True)
class Case:
    """One bad input: what is called with it, and what the refusal must say."""

    name: str
    call: Callable[[Path], object]  # given the source file (the connection CONN_ID points at it)
    says: tuple[str, ...]
    error: type[Exception] = SimulatorError

    def __str__(self) -> str:
        return self.name


def simulator(path: Path, **kwargs: Any) -> Simulator:
    return Simulator(DuckDBSession.for_database(str(path)), **kwargs)


def rendered(operator: Any, **values: Any) -> Any:
    """The operator as its templated fields render: the values set after construction."""
    for name, value in values.items():
        setattr(operator, name, value)
    return operator.execute(NO_CONTEXT)


def simulator_call(kwargs: dict[str, Any], operation: Callable[[Simulator], object]) -> Callable[[Path], object]:
    return lambda path: operation(simulator(path, **kwargs))


def schema_of_status(parameter: str, value: object) -> Callable[[Path], object]:
    """A StatusOperator whose templated schema parameter renders to ``value``."""

    def call(path: Path) -> object:
        templated: dict[str, Any] = {parameter: "{{ params.schema }}"}
        return rendered(StatusOperator(task_id="t", conn_id=CONN_ID, **templated), **{parameter: value})

    return call


def forced_load(force: object) -> Callable[[Path], object]:
    return lambda path: LoadBaselineOperator(task_id="t", force=cast(Any, force), conn_id=CONN_ID).execute(NO_CONTEXT)


def forced_reset(force: object) -> Callable[[Path], object]:
    return lambda path: simulator(path).reset(force=cast(Any, force))


DAYS_ALLOWED = "give a whole number from 1 (days past 3 are generated)"
DAYS: list[tuple[object, tuple[str, ...]]] = [
    (0, ("day=0 is not valid: days start at 1",)),
    (-1, ("day=-1 is not valid: days start at 1",)),
    ("-7", ("day=-7 is not valid: days start at 1",)),
    (3651, ("day=3651 is past the last simulated day, 3650",)),
    ("99999", ("day=99999 is past the last simulated day, 3650",)),
    ("abc", ("day='abc' is not a whole number", DAYS_ALLOWED)),
    ("2.5", ("day='2.5' is not a whole number", DAYS_ALLOWED)),
    ("1e3", ("day='1e3' is not a whole number", DAYS_ALLOWED)),
    ("", ("day='' is not a whole number", DAYS_ALLOWED)),
    (" ", ("day=' ' is not a whole number", DAYS_ALLOWED)),
    ("tomorrow", ("day='tomorrow' is not a whole number", DAYS_ALLOWED)),
    (None, ("day=None is not valid", DAYS_ALLOWED)),
    (2.5, ("day=2.5 is not valid", DAYS_ALLOWED)),
    (2.0, ("day=2.0 is not valid", DAYS_ALLOWED)),
    (True, ("day=True is not valid", DAYS_ALLOWED)),
    ([2], ("day=[2] is not valid", DAYS_ALLOWED)),
]
SCALES_ALLOWED = "give a whole number from 1 to 100,000"
SCALES: list[tuple[object, str]] = [
    (0, "scale=0"),
    ("0", "scale=0"),
    (-1, "scale=-1"),
    ("-1", "scale='-1'"),
    (100_001, "scale=100001"),
    ("x", "scale='x'"),
    ("", "scale=''"),
    ("1e3", "scale='1e3'"),
    (2.5, "scale=2.5"),
    (2.0, "scale=2.0"),
    (True, "scale=True"),
    (None, "scale=None"),
]
PLAIN_IDENTIFIER = "is not a plain identifier: use 1-63 ASCII letters, digits and underscores"
SCHEMAS: list[tuple[object, str]] = [
    ('jaffle"shop', PLAIN_IDENTIFIER),
    ("jaffle'shop", PLAIN_IDENTIFIER),
    ("x;drop table y", PLAIN_IDENTIFIER),
    ("jaffle_shop; --", PLAIN_IDENTIFIER),
    ("jaffle shop", PLAIN_IDENTIFIER),
    ("jaffle\tshop", PLAIN_IDENTIFIER),
    ("jaffle\nshop", PLAIN_IDENTIFIER),
    ("ünïcode", PLAIN_IDENTIFIER),
    ("日本", PLAIN_IDENTIFIER),
    ("jaffle-shop", PLAIN_IDENTIFIER),
    ("erp.shop", PLAIN_IDENTIFIER),
    ("1abc", PLAIN_IDENTIFIER),
    ("", PLAIN_IDENTIFIER),
    ("a" * 64, PLAIN_IDENTIFIER),
    (None, PLAIN_IDENTIFIER),
    (5, PLAIN_IDENTIFIER),
    ("select", "is a reserved word in SQL"),
    ("TABLE", "is a reserved word in SQL"),
    ("Order", "is a reserved word in SQL"),
    ("user", "is a reserved word in SQL"),
    ("schema", "is a reserved word in SQL"),
]
FLAGS_ALLOWED = "is not valid: give True or False"

CASES: list[Case] = [
    *(
        Case(f"apply day={day!r} ({way})", call, (*says,))
        for day, says in DAYS
        for way, call in (
            (
                "operator",
                lambda p, d=day: rendered(ApplyDeltaOperator(task_id="t", day="{{ d }}", conn_id=CONN_ID), day=d),
            ),
            ("simulator", lambda p, d=day: simulator(p).apply_delta(d)),
        )
    ),
    *(
        Case(f"{operation} scale={scale!r} ({way})", call, (f"{shown} is not valid", SCALES_ALLOWED))
        for scale, shown in SCALES
        for operation, way, call in (
            (
                "reset",
                "operator",
                lambda p, s=scale: rendered(ResetOperator(task_id="t", scale="{{ s }}", conn_id=CONN_ID), scale=s),
            ),
            ("apply", "simulator", lambda p, s=scale: simulator(p, scale=s).apply_delta(2)),
        )
    ),
    # Scales within 1-100,000 whose IDs would reach the custom floor are refused before anything changes.
    Case(
        "apply day 3650 at scale 3000, fast-forward (operator)",
        lambda p: rendered(
            ApplyDeltaOperator(task_id="t", day=3650, fast_forward=True, scale="{{ s }}", conn_id=CONN_ID), scale=3000
        ),
        ("day 3650 at scale 3000 would number order_items up to 1,145,670,000", "Use a scale up to 2,618 for day 3650"),
    ),
    Case(
        "apply day 365 at scale 100000, fast-forward (simulator)",
        lambda p: simulator(p, scale=100_000).apply_delta(365, fast_forward=True),
        ("day 365 at scale 100000 would number order_items up to 3,940,100,000", "or an earlier day"),
    ),
    Case(
        "load scale=3 on a scale-1 source (operator)",
        lambda p: rendered(LoadBaselineOperator(task_id="t", scale="{{ s }}", conn_id=CONN_ID), scale=3),
        ("the database holds scale 1 (day 1); this operation asked for scale 3", "Give scale=1, or reset with scale=3"),
    ),
    *(
        Case(f"{parameter}={name!r} ({way})", call, (f"{parameter}={name!r} {says}",), ValueError)
        for name, says in SCHEMAS
        for parameter in ("shop_schema", "crm_schema")
        for way, call in (
            (
                "operator",
                schema_of_status(parameter, name),
            ),
            ("simulator", lambda p, n=name, k=parameter: simulator(p, **{k: n}).reset()),
        )
    ),
    *(
        Case(
            f"profile={profile!r}",
            simulator_call({"profile": profile}, lambda s: s.apply_delta(2)),
            (f"profile={profile!r} is not a change profile", "give one of classic, cdc"),
        )
        for profile in ("nope", "", None, "CLASSIC")
    ),
    Case(
        "profile='cdc' on a classic source (operator)",
        lambda p: rendered(ApplyDeltaOperator(task_id="t", day=2, profile="{{ p }}", conn_id=CONN_ID), profile="cdc"),
        ("the database holds the 'classic' profile (day 1); this operation asked for 'cdc'",),
    ),
    # A flag given as text ("False" is truthy) must not take over tables or rebuild them.
    *(
        Case(f"force={value!r} ({operation})", call, (f"force={value!r} {FLAGS_ALLOWED}", "Nothing was changed"))
        for value in ("False", "yes", 1, None)
        for operation, call in (
            ("load operator", forced_load(value)),
            ("reset", forced_reset(value)),
        )
    ),
    Case(
        "fast_forward='False' (simulator)",
        lambda p: simulator(p).apply_delta(3, fast_forward=cast(Any, "False")),
        (f"fast_forward='False' {FLAGS_ALLOWED}",),
    ),
    Case(
        "fast_forward='maybe' (operator)",
        lambda p: rendered(ApplyDeltaOperator(task_id="t", day=3, conn_id=CONN_ID), fast_forward="maybe"),
        (f"fast_forward='maybe' {FLAGS_ALLOWED}",),
        ValueError,
    ),
    *(
        Case(
            f"enable_cdc={value!r} on DuckDB",
            simulator_call({"enable_cdc": value}, lambda s: s.apply_delta(2)),
            ("enable_cdc is not available on DuckDB",),
        )
        for value in (True, "publication")
    ),
    Case(
        "day 3 on a day-1 source",
        lambda p: simulator(p).apply_delta(3),
        ("cannot apply day 3: the database is at day 1. Apply day 2 first",),
    ),
    Case(
        "a missing connection",
        lambda p: StatusOperator(task_id="t", conn_id="no_such_connection").execute(NO_CONTEXT),
        ("Airflow connection 'no_such_connection' does not exist",),
    ),
    Case(
        "a connection of an unsupported type",
        lambda p: StatusOperator(task_id="t", conn_id="bad_input_http").execute(NO_CONTEXT),
        ("connection type 'http' is not supported", "supported: databricks, duckdb, mssql, postgres"),
    ),
]


@dataclass(frozen=True)
class DayOne:
    """A DuckDB source at day 1 that each test copies, and what it holds."""

    path: Path
    snapshot: Any
    data: bytes


@pytest.fixture(scope="module")
def day_one(tmp_path_factory: pytest.TempPathFactory) -> DayOne:
    path = tmp_path_factory.mktemp("bad-input") / "day-one.duckdb"
    loaded = simulator(path)
    loaded.load_baseline()
    loaded.apply_delta(1)
    snapshot = duckdb_snapshot(path)
    assert holds_state(snapshot, 1)
    return DayOne(path, snapshot, path.read_bytes())


@pytest.fixture
def source(day_one: DayOne, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "source.duckdb"
    shutil.copyfile(day_one.path, path)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", f'{{"conn_type": "duckdb", "host": "{path}"}}')
    monkeypatch.setenv("AIRFLOW_CONN_BAD_INPUT_HTTP", '{"conn_type": "http", "host": "example.com"}')
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_CONNECTION", raising=False)
    return path


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_is_refused_by_name_and_changes_nothing(day_one: DayOne, source: Path, case: Case) -> None:
    with pytest.raises(case.error) as refused:
        case.call(source)
    for text in case.says:
        assert text in str(refused.value), f"{case}: {refused.value}"
    # The same bytes (and no write-ahead log beside them) hold the same rows; a file DuckDB rewrote must
    # still hold every row it held.
    if source.read_bytes() != day_one.data or Path(f"{source}.wal").exists():
        assert duckdb_snapshot(source) == day_one.snapshot


def test_every_reserved_word_of_postgres_and_duckdb_is_refused_as_a_schema_name(postgres: PostgresServer) -> None:
    import psycopg

    with psycopg.connect(postgres.uri(), autocommit=True) as conn:
        postgres_words = {w for (w,) in conn.execute("SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')")}
    with duckdb.connect() as con:
        reserved = con.execute("SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'reserved'")
        duckdb_words = {w for (w,) in reserved.fetchall()}
    assert len(postgres_words) > 90 and len(duckdb_words) > 70
    assert sorted((postgres_words | duckdb_words) - RESERVED_WORDS) == []
    for word in sorted(postgres_words | duckdb_words):
        with pytest.raises(ValueError, match="reserved word"):
            validate_schema_name(word.upper(), "shop_schema")
    # Names people give their sources stay allowed.
    for name in ("jaffle_shop", "jaffle_crm", "public", "main", "erp", "crm", "raw", "staging", "sources", "data"):
        assert validate_schema_name(name, "shop_schema") == name


# --- a database written by a newer version of the package ----------------------------------------------
NEWER_LEDGER_ROW = (
    f"INSERT INTO jaffle_shop.{LEDGER_TABLE} (seq, operation, day, scale, scenario, shop_schema, crm_schema, "
    "package_version, ledger_version, state_digest, applied_at) VALUES (3, 'apply_delta', 2, 1, {scenario}, "
    "'jaffle_shop', 'jaffle_crm', '9.1.0', {version}, '', TIMESTAMP '2030-01-01 00:00:00')"
)
OPERATIONS: dict[str, Callable[[Simulator], object]] = {
    "load": lambda s: s.load_baseline(),
    "load, force": lambda s: s.load_baseline(force=True),
    "apply day 2": lambda s: s.apply_delta(2),
    "apply next": lambda s: s.apply_delta("next"),
    "apply day 1 (applied)": lambda s: s.apply_delta(1),
    "apply day 5, fast-forward": lambda s: s.apply_delta(5, fast_forward=True),
    "reset": lambda s: s.reset(),
    "status": lambda s: s.status(),
    "status, verify": lambda s: s.status(verify=True),
}


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({"scenario": "'classic'", "version": "2"}, "was written by airflow-source-simulator 9.1.0 (ledger version 2)"),
        (
            {"scenario": "'chaos'", "version": "1"},
            "the database holds profile 'chaos' (written by airflow-source-simulator 9.1.0)",
        ),
    ],
    ids=["newer ledger version", "unknown profile"],
)
@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_a_database_from_a_newer_package_is_refused_by_every_operation_until_reset_with_force(
    engine: str, row: dict[str, str], says: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if engine == "duckdb":
        path = tmp_path / "source.duckdb"

        def make() -> Simulator:
            return simulator(path)

        def execute(sql: str) -> None:
            with duckdb.connect(str(path)) as con:
                con.execute(sql)

        def snapshot() -> Any:
            return duckdb_snapshot(path)
    else:
        conn_id = request.getfixturevalue("pg_conn_id")
        uri = request.getfixturevalue("postgres").uri(request.getfixturevalue("pg_database"))

        def make() -> Simulator:
            return Simulator(postgres_session(conn_id))

        def execute(sql: str) -> None:
            import psycopg

            with psycopg.connect(uri, autocommit=True) as conn:
                conn.execute(sql)

        def snapshot() -> Any:
            return postgres_snapshot(uri)

    make().load_baseline()
    make().apply_delta(1)
    execute(NEWER_LEDGER_ROW.format(**row))
    before = snapshot()
    for name, operation in OPERATIONS.items():
        with pytest.raises(SimulatorError) as refused:
            operation(make())
        message = str(refused.value)
        assert says in message, f"{name}: {message}"
        assert "Nothing was changed. Upgrade airflow-source-simulator to operate on this database" in message, name
        assert "or reset it with this version: ResetOperator(force=True)" in message, name
        assert snapshot() == before, f"{name} changed the database"
    # Resetting with force replaces the state with this version's, and keeps the ledger's history.
    assert make().reset(force=True)["day"] == 0
    after = snapshot()
    assert holds_state(after, 0)
    ledger = after[f"jaffle_shop.{LEDGER_TABLE}"]
    assert [row[:3] for row in ledger] == [
        (1, "load_baseline", 0),
        (2, "apply_delta", 1),
        (3, "apply_delta", 2),
        (4, "reset", 0),
    ]
    assert make().apply_delta(1)["changed"] is True
