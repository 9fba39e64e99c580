"""Ingestion pipelines as an outside data engineer writes them, correct ones and ones with one realistic bug each.

Each is plain SQL over a source DB-API connection (a DuckDB file; PostgreSQL for the logical-decoding consumer)
into a target DB-API connection (DuckDB, or PostgreSQL through psycopg): nothing here imports the simulator. A
pipeline knows its source as a data engineer does: the tables it ingests and their keys (its configuration,
``SOURCE_TABLES``), and each table's columns, read from ``information_schema`` at every run.

``tests/integration/test_pipeline_matrix.py`` runs every one after the baseline and after every day, and checks
the oracle's verdict against what the generator says each bug must do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from tests.support.pgoutput import Change, decode

# What this team ingests: every table of the two source schemas, with its primary key.
SOURCE_TABLES: dict[str, dict[str, str]] = {
    "jaffle_shop": {
        "customers": "customer_id",
        "products": "product_id",
        "orders": "order_id",
        "order_items": "order_item_id",
        "payments": "payment_id",
    },
    "jaffle_crm": {"campaigns": "campaign_id", "email_activity": "activity_id", "web_sessions": "session_id"},
}
RAW = {"jaffle_shop": "raw_jaffle_shop", "jaffle_crm": "raw_jaffle_crm"}
STATE_SCHEMA = "pipeline_state"  # where the incremental loads keep their watermarks, in the target
ONE_DAY = dt.timedelta(days=1)
AUDIT_COLUMNS = ("created_at", "updated_at", "deleted_at")

Flavor = Literal["duckdb", "postgres"]
# A pipeline's rewrite of a source column in its SELECT: (column, source type) -> SQL expression.
Expression = Callable[[str, str], str]


def sql_type(kind: pa.DataType) -> str:
    """The SQL type (DuckDB and PostgreSQL spell these alike) of a column read as Arrow."""
    if pa.types.is_decimal(kind):
        return f"DECIMAL({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP"
    for test, name in (
        (pa.types.is_int64, "BIGINT"),
        (pa.types.is_integer, "INTEGER"),
        (pa.types.is_boolean, "BOOLEAN"),
        (pa.types.is_date, "DATE"),
    ):
        if test(kind):
            return name
    return "VARCHAR"


class Warehouse:
    """The target: a DuckDB connection, or a psycopg connection in autocommit mode (transactions are explicit
    BEGIN / COMMIT statements on both), with the two things whose spelling differs: parameters and bulk loads."""

    def __init__(self, connection: Any, flavor: Flavor) -> None:
        self.connection, self.flavor = connection, flavor

    def run(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.flavor == "postgres":
            sql = sql.replace("?", "%s")
        cursor = self.connection.execute(sql, list(params) if params else None)
        return list(cursor.fetchall()) if cursor.description else []

    def catalog(self, schemas: list[str]) -> dict[tuple[str, str], dict[str, str]]:
        """Every table of ``schemas``: its columns and their types."""
        out: dict[tuple[str, str], dict[str, str]] = {}
        for schema, table, column, kind in self.run(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema IN ({', '.join('?' for _ in schemas)}) ORDER BY table_schema, table_name, "
            "ordinal_position",
            *schemas,
        ):
            out.setdefault((str(schema), str(table)), {})[str(column)] = str(kind)
        return out

    def stage(self, name: str, rows: pa.Table) -> None:
        """A relation ``name`` holding ``rows`` (typed as read) for the statements that follow: in DuckDB the Arrow
        rows themselves, in PostgreSQL a temporary table filled by COPY."""
        if self.flavor == "duckdb":
            self.connection.register(name, rows)
            return
        self.run(f"DROP TABLE IF EXISTS {name}")
        columns = ", ".join(f"{f.name} {sql_type(f.type)}" for f in rows.schema)
        self.run(f"CREATE TEMP TABLE {name} ({columns})")
        copy_rows = f"COPY {name} ({', '.join(rows.column_names)}) FROM STDIN"
        with self.connection.cursor() as cursor, cursor.copy(copy_rows) as copy:
            for row in zip(*(column.to_pylist() for column in rows.columns), strict=True):
                copy.write_row(row)


def read(source: Any, sql: str, *params: Any) -> pa.Table:
    """Rows of a DuckDB source, as Arrow."""
    return source.sql(sql, params=list(params) if params else None).to_arrow_table()


def source_catalog(source: Any) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """The columns (name, type) of every table of the source schemas, in their order."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, kind in source.execute(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema IN ('jaffle_shop', 'jaffle_crm') ORDER BY table_schema, table_name, ordinal_position"
    ).fetchall():
        out.setdefault((str(schema), str(table)), []).append((str(column), str(kind)))
    return out


@dataclass
class Move:
    """One source table a run moves: where it is and goes, its columns, and the target table's columns (empty
    until the run creates it)."""

    schema: str
    table: str
    key: str
    columns: list[tuple[str, str]]
    target: tuple[str, str]
    existing: dict[str, str]

    @property
    def source(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def qualified(self) -> str:
        return ".".join(self.target)


@dataclass(frozen=True)
class Pipeline:
    """What every batch pipeline shares: where it writes, the rewrites of its SELECT, how the oracle is told."""

    name: str
    schemas: Mapping[str, str] = field(default_factory=lambda: dict(RAW))  # source schema -> target schema
    table_name: str = "{table}"  # over {schema} (the source schema) and {table}
    renames: Mapping[str, str] = field(default_factory=dict)  # "table.column" or "column" -> the target's name
    select: Expression | None = None  # rewrites each source column in the SELECT (the bugs live here)
    column_types: Mapping[str, str] = field(default_factory=dict)  # "table.column" or "column" -> target type
    where: str | None = None  # a filter on the source rows
    verify: Mapping[str, Any] = field(default_factory=dict)  # verify_target's options besides the layout

    def target(self, schema: str, table: str) -> tuple[str, str]:
        return self.schemas[schema], self.table_name.format(schema=schema, table=table)

    def target_schemas(self) -> list[str]:
        return sorted(set(self.schemas.values()))

    def options(self) -> dict[str, Any]:
        """verify_target's keyword arguments that describe this pipeline's target."""
        return {"target_schema": dict(self.schemas), "table_name": self.table_name, **self.verify}

    def run(self, source: Any, warehouse: Warehouse) -> None:
        """One run: every table, each in a transaction of its own."""
        columns = source_catalog(source)
        existing = warehouse.catalog(self.target_schemas())
        run = self.start(warehouse)
        for schema, tables in SOURCE_TABLES.items():
            for table, key in tables.items():
                target = self.target(schema, table)
                move = Move(schema, table, key, columns[(schema, table)], target, existing.get(target, {}))
                warehouse.run("BEGIN")
                self.load(source, warehouse, move, run)
                warehouse.run("COMMIT")

    def start(self, warehouse: Warehouse) -> dict[str, Any]:
        """What a run does before it moves the tables; returns what the run's loads share."""
        return {}

    def load(self, source: Any, warehouse: Warehouse, move: Move, run: dict[str, Any]) -> None:
        raise NotImplementedError

    def _name(self, table: str, column: str) -> str:
        return self.renames.get(f"{table}.{column}", self.renames.get(column, column))

    def _select(self, columns: list[tuple[str, str]]) -> str:
        rewrite = self.select or (lambda column, kind: column)
        return ", ".join(
            column if (sql := rewrite(column, kind)) == column else f"{sql} AS {column}" for column, kind in columns
        )

    def _ensure(self, warehouse: Warehouse, move: Move, rows: pa.Table, extra: list[tuple[str, str]]) -> list[str]:
        """Create the target table from the rows' columns (plus ``extra`` (name, type)), or add the columns the
        source gained since (schema evolution); returns the target's names of the rows' columns."""
        names = [self._name(move.table, c) for c in rows.column_names]
        kinds = [
            self.column_types.get(f"{move.table}.{c}", self.column_types.get(c, sql_type(f.type)))
            for c, f in zip(rows.column_names, rows.schema, strict=True)
        ]
        wanted = [*zip(names, kinds, strict=True), *extra]
        if not move.existing:
            warehouse.run(f"CREATE SCHEMA IF NOT EXISTS {move.target[0]}")
            warehouse.run(f"CREATE TABLE {move.qualified} ({', '.join(f'{n} {k}' for n, k in wanted)})")
        else:
            for name, kind in wanted:
                if name not in move.existing:
                    warehouse.run(f"ALTER TABLE {move.qualified} ADD COLUMN {name} {kind}")
        move.existing.update(wanted)
        return names


@dataclass(frozen=True)
class Incremental(Pipeline):
    """Each run reads the rows whose watermark column is past the last run's high-water mark (less a look-back),
    and writes them by key; then it reconciles the keys with the source's to find hard deletes."""

    watermark: str = "updated_at"
    look_back: dt.timedelta | None = ONE_DAY
    inclusive: bool = False  # ">=" the high-water mark instead of ">"
    write: Literal["merge", "append"] = "merge"
    # What a key gone from the source becomes: deleted, kept as it is, or flagged in column _deleted ("flag"
    # re-inserts a key that comes back unflagged; "flag_keep_tombstone" only replaces live rows).
    deletes: Literal["delete", "keep", "flag", "flag_keep_tombstone"] = "delete"
    fixed_columns: bool = False  # read only the columns the target table was created with
    loader_columns: bool = False  # stamp each row with _loaded_at and _batch_id

    def start(self, warehouse: Warehouse) -> dict[str, Any]:
        warehouse.run(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
        warehouse.run(
            f"CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.watermarks "
            "(pipeline VARCHAR, source_table VARCHAR, high_water TIMESTAMP)"
        )
        marks = warehouse.run(
            f"SELECT source_table, high_water FROM {STATE_SCHEMA}.watermarks WHERE pipeline = ?", self.name
        )
        return {"marks": dict(marks), "batch": uuid.uuid4().hex, "now": _now()}

    def load(self, source: Any, warehouse: Warehouse, move: Move, run: dict[str, Any]) -> None:
        columns = move.columns
        if self.fixed_columns and move.existing:
            columns = [(c, k) for c, k in columns if self._name(move.table, c) in move.existing]
        # The run's high-water mark is read first: a row written while the increment is read waits for the next run.
        (high,) = source.execute(f"SELECT max({self.watermark}) FROM {move.source}").fetchall()[0]
        conditions, params = [f"{self.watermark} <= ?"], [high]
        mark = run["marks"].get(move.source)
        if mark is not None:
            conditions.append(f"{self.watermark} {'>=' if self.inclusive else '>'} ?")
            params.append(mark - (self.look_back or dt.timedelta(0)))
        if self.where:
            conditions.append(self.where)
        increment = read(
            source, f"SELECT {self._select(columns)} FROM {move.source} WHERE {' AND '.join(conditions)}", *params
        )
        flagged = self.deletes in ("flag", "flag_keep_tombstone")
        extra = [("_deleted", "BOOLEAN")] if flagged else []
        extra += [("_loaded_at", "TIMESTAMP"), ("_batch_id", "VARCHAR")] if self.loader_columns else []
        warehouse.stage("increment_rows", increment)
        names = self._ensure(warehouse, move, increment, extra)
        key, target = self._name(move.table, move.key), move.qualified
        if self.write == "merge":
            live_only = " AND NOT _deleted" if self.deletes == "flag_keep_tombstone" else ""
            warehouse.run(f"DELETE FROM {target} WHERE {key} IN (SELECT {move.key} FROM increment_rows){live_only}")
        values = list(increment.column_names) + (["false"] if flagged else [])
        names = names + (["_deleted"] if flagged else [])
        if self.loader_columns:
            values, names = [*values, "?", "?"], [*names, "_loaded_at", "_batch_id"]
        warehouse.run(
            f"INSERT INTO {target} ({', '.join(names)}) SELECT {', '.join(values)} FROM increment_rows",
            *([run["now"], run["batch"]] if self.loader_columns else []),
        )
        if self.deletes != "keep":
            warehouse.stage("source_keys", read(source, f"SELECT {move.key} FROM {move.source}"))
            gone = f"{key} NOT IN (SELECT {move.key} FROM source_keys)"
            if flagged:
                warehouse.run(f"UPDATE {target} SET _deleted = true WHERE NOT _deleted AND {gone}")
            else:
                warehouse.run(f"DELETE FROM {target} WHERE {gone}")
        if high is not None and mark is None:
            warehouse.run(f"INSERT INTO {STATE_SCHEMA}.watermarks VALUES (?, ?, ?)", self.name, move.source, high)
        elif high is not None:
            warehouse.run(
                f"UPDATE {STATE_SCHEMA}.watermarks SET high_water = ? WHERE pipeline = ? AND source_table = ?",
                high,
                self.name,
                move.source,
            )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class FullCopy(Pipeline):
    """Every run empties each target table and copies the source table again (truncate and reload)."""

    def load(self, source: Any, warehouse: Warehouse, move: Move, run: dict[str, Any]) -> None:
        where = f" WHERE {self.where}" if self.where else ""
        rows = read(source, f"SELECT {self._select(move.columns)} FROM {move.source}{where}")
        warehouse.stage("copied_rows", rows)
        names = self._ensure(warehouse, move, rows, [])
        warehouse.run(f"TRUNCATE {move.qualified}")
        warehouse.run(f"INSERT INTO {move.qualified} ({', '.join(names)}) SELECT * FROM copied_rows")


@dataclass(frozen=True)
class Snapshot(Pipeline):
    """A daily snapshot into SCD2 tables, as ``dbt snapshot`` builds them: each key's versions with dbt_valid_from
    and dbt_valid_to. The timestamp strategy opens a version when updated_at moves; the check strategy when one of
    the checked columns changes (here every column but the audit ones). A key gone from the source is closed."""

    strategy: Literal["timestamp", "check"] = "timestamp"

    def start(self, warehouse: Warehouse) -> dict[str, Any]:
        return {"now": _now()}  # when this run closes the versions of keys gone from the source

    def load(self, source: Any, warehouse: Warehouse, move: Move, run: dict[str, Any]) -> None:
        rows = read(source, f"SELECT * FROM {move.source}")
        warehouse.stage("source_rows", rows)
        names = self._ensure(warehouse, move, rows, [("dbt_valid_from", "TIMESTAMP"), ("dbt_valid_to", "TIMESTAMP")])
        target, key = move.qualified, move.key
        if self.strategy == "timestamp":
            changed = "s.updated_at <> v.updated_at"
        else:
            checked = [c for c in rows.column_names if c != key and c not in AUDIT_COLUMNS]
            changed = " OR ".join(f"s.{c} IS DISTINCT FROM v.{c}" for c in checked)
        warehouse.run(
            f"UPDATE {target} AS v SET dbt_valid_to = s.updated_at FROM source_rows AS s "
            f"WHERE v.{key} = s.{key} AND v.dbt_valid_to IS NULL AND ({changed})"
        )
        warehouse.run(
            f"INSERT INTO {target} ({', '.join(names)}, dbt_valid_from, dbt_valid_to) "
            f"SELECT {', '.join(rows.column_names)}, updated_at, NULL FROM source_rows AS s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {target} AS v WHERE v.{key} = s.{key} AND v.dbt_valid_to IS NULL)"
        )
        warehouse.run(
            f"UPDATE {target} SET dbt_valid_to = ? WHERE dbt_valid_to IS NULL "
            f"AND {key} NOT IN (SELECT {key} FROM source_rows)",
            run["now"],
        )


# --- The logical-decoding consumer: a PostgreSQL source's changes, read from a pgoutput slot ---------------------

_PG_ARROW = {
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "smallint": pa.int32(),
    "character varying": pa.string(),
    "text": pa.string(),
    "timestamp without time zone": pa.timestamp("us"),
    "date": pa.date32(),
    "boolean": pa.bool_(),
}


def _arrow_type(data_type: str, precision: int | None, scale: int | None) -> pa.DataType:
    if data_type == "numeric":
        return pa.decimal128(precision or 38, scale or 0)
    return _PG_ARROW[data_type]


@dataclass(frozen=True)
class LogicalDecodingConsumer(Pipeline):
    """A change-data-capture consumer of a PostgreSQL source's publication: its first run creates a pgoutput slot
    and copies every table (the initial snapshot); every later run reads the slot's changes since, applies the
    last change of each key (an insert or update as an upsert, a delete as a delete), commits, and only then
    confirms the changes to the slot. A column the source adds is added to the target.

    ``keep="first"`` is the bug: it keeps the first change of each key in a batch instead of the last."""

    slot: str = "ingest"
    publication: str = ""
    keep: Literal["last", "first"] = "last"

    def run(self, source: Any, warehouse: Warehouse) -> None:
        if not source.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [self.slot]).fetchall():
            source.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [self.slot])
            super().run(source, warehouse)  # the initial snapshot: every table copied as it is now
            return
        rows = source.execute(
            "SELECT lsn, data FROM pg_logical_slot_peek_binary_changes(%s, NULL, NULL, 'proto_version', '1', "
            "'publication_names', %s)",
            [self.slot, self.publication],
        ).fetchall()
        if not rows:
            return
        columns = _pg_catalog(source)
        existing = warehouse.catalog(self.target_schemas())
        warehouse.run("BEGIN")
        for (schema, table), keyed in self._by_key(decode([data for _, data in rows])).items():
            target = self.target(schema, table)
            move = Move(schema, table, SOURCE_TABLES[schema][table], [], target, existing[target])
            self._apply(warehouse, move, keyed, dict(columns[(schema, table)]))
        warehouse.run("COMMIT")
        # Confirmed to the slot only once the target has committed them: a failed run reads them again.
        source.execute("SELECT pg_replication_slot_advance(%s, %s)", [self.slot, rows[-1][0]])

    def load(self, source: Any, warehouse: Warehouse, move: Move, run: dict[str, Any]) -> None:
        types = dict(_pg_catalog(source)[(move.schema, move.table)])
        fetched = source.execute(f"SELECT {', '.join(types)} FROM {move.source}").fetchall()
        values = list(zip(*fetched, strict=True)) if fetched else [() for _ in types]
        rows = pa.table({c: pa.array(list(v), type=k) for (c, k), v in zip(types.items(), values, strict=True)})
        warehouse.stage("snapshot_rows", rows)
        names = self._ensure(warehouse, move, rows, [])
        warehouse.run(f"INSERT INTO {move.qualified} ({', '.join(names)}) SELECT * FROM snapshot_rows")

    def _by_key(self, changes: list[Change]) -> dict[tuple[str, str], dict[int, Change]]:
        """Each table's change per key: the last one (or, the bug, the first)."""
        out: dict[tuple[str, str], dict[int, Change]] = {}
        for change in changes:
            if change.kind == "truncate":
                raise NotImplementedError("the source never truncates")
            schema, table = change.table.split(".")
            keyed = out.setdefault((schema, table), {})
            number = int(str(change.new[SOURCE_TABLES[schema][table]]))
            if self.keep == "last" or number not in keyed:
                keyed[number] = change
        return out

    def _apply(self, warehouse: Warehouse, move: Move, keyed: dict[int, Change], types: dict[str, pa.DataType]) -> None:
        key, target = move.key, move.qualified
        gone = [k for k, c in keyed.items() if c.kind == "delete"]
        upserts = [c.new for c in keyed.values() if c.kind != "delete"]
        if gone:
            warehouse.stage("deleted_keys", pa.table({key: pa.array(gone, type=pa.int64())}))
            warehouse.run(f"DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM deleted_keys)")
        if not upserts:
            return
        names = list(upserts[0])
        for column in names:
            if column not in move.existing:  # the source added a column: so does the target
                warehouse.run(f"ALTER TABLE {target} ADD COLUMN {column} {sql_type(types[column])}")
                move.existing[column] = sql_type(types[column])
        # pgoutput sends every value as text: staged as text, cast to the target's types on the way in.
        text = {c: pa.array([row.get(c) for row in upserts], pa.string()) for c in names}
        warehouse.stage("changed_rows", pa.table(text))
        casts = ", ".join(f"CAST({c} AS {move.existing[c]})" for c in names)
        warehouse.run(f"DELETE FROM {target} WHERE {key} IN (SELECT CAST({key} AS BIGINT) FROM changed_rows)")
        warehouse.run(f"INSERT INTO {target} ({', '.join(names)}) SELECT {casts} FROM changed_rows")


def _pg_catalog(source: Any) -> dict[tuple[str, str], list[tuple[str, pa.DataType]]]:
    """The columns of every table of a PostgreSQL source's two schemas, as Arrow types."""
    out: dict[tuple[str, str], list[tuple[str, pa.DataType]]] = {}
    for schema, table, column, kind, precision, scale in source.execute(
        "SELECT table_schema, table_name, column_name, data_type, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_schema IN ('jaffle_shop', 'jaffle_crm') "
        "ORDER BY table_schema, table_name, ordinal_position"
    ).fetchall():
        out.setdefault((str(schema), str(table)), []).append((str(column), _arrow_type(str(kind), precision, scale)))
    return out


# --- The rewrites of a column that make the bugs -----------------------------------------------------------------


def local_time(zone: str) -> Expression:
    """Timestamps converted from UTC to the local time of ``zone``, and stored without their zone."""

    def rewrite(column: str, kind: str) -> str:
        return f"(({column} AT TIME ZONE 'UTC') AT TIME ZONE '{zone}')" if kind == "TIMESTAMP" else column

    return rewrite


def first_chars(length: int, *columns: str) -> Expression:
    def rewrite(column: str, kind: str) -> str:
        return f"left({column}, {length})" if column in columns else column

    return rewrite


def whole_numbers(column: str, kind: str) -> str:
    return f"CAST({column} AS INTEGER)" if kind.startswith("DECIMAL") else column


def empty_for_null(column: str, kind: str) -> str:
    return f"coalesce({column}, '')" if kind == "VARCHAR" else column


# --- The pipelines -------------------------------------------------------------------------------------------------

LOADER_PATTERNS = ["_loaded_*", "_batch_*", "_fivetran_*"]  # the last matches nothing here: that must be fine
RENAMES = {"customers.email": "email_address", "updated_at": "source_updated_at"}

CORRECT: dict[str, Pipeline] = {
    # A one-day look-back on updated_at, a merge by key, and the keys compared with the source's for deletes.
    "incremental": Incremental("incremental"),
    "full_copy": FullCopy("full_copy"),
    # The incremental load as a managed loader lays it out: each row stamped with the loader's columns (which the
    # check is told to ignore, by patterns of which one matches nothing), columns renamed on the way in, one schema
    # per source schema and tables named {schema}__{table}.
    "loader_layout": Incremental(
        "loader_layout",
        loader_columns=True,
        schemas={"jaffle_shop": "raw_shop", "jaffle_crm": "raw_crm"},
        table_name="{schema}__{table}",
        renames=RENAMES,
        verify={"ignore_columns": LOADER_PATTERNS, "column_names": RENAMES},
    ),
    # Hard deletes kept as rows flagged _deleted (as Fivetran keeps them); a key that comes back is unflagged.
    "flagged_deletes": Incremental("flagged_deletes", deletes="flag", verify={"deleted_column": "_deleted"}),
    # A daily snapshot with the timestamp strategy, checked as scd2.
    "snapshot": Snapshot("snapshot", verify={"mode": "scd2"}),
}

BUGGY: dict[str, Pipeline] = {
    # 1. No look-back: a row that arrives with an updated_at older than the last high-water mark is never read.
    "no_look_back": Incremental("no_look_back", look_back=None),
    # 2. ">=" the high-water mark, and the increment appended instead of merged by key.
    "append_at_or_past_the_mark": Incremental(
        "append_at_or_past_the_mark", look_back=None, inclusive=True, write="append"
    ),
    # 3. The watermark on created_at: an update never moves it, so updates are never read.
    "created_at_watermark": Incremental("created_at_watermark", watermark="created_at"),
    # 4. No hard-delete handling: a key the source deleted stays.
    "no_delete_detection": Incremental("no_delete_detection", deletes="keep"),
    # 5. Soft-deleted rows dropped: "active rows only", in a full copy and in an incremental load.
    "active_rows_only_copy": FullCopy("active_rows_only_copy", where="deleted_at IS NULL"),
    "active_rows_only_increments": Incremental("active_rows_only_increments", where="deleted_at IS NULL"),
    # 6. The first of two saves kept is LogicalDecodingConsumer(keep="first"): it needs a PostgreSQL source.
    # 7. Hard deletes flagged, but a key that comes back is appended next to its flagged tombstone.
    "tombstones_never_restored": Incremental(
        "tombstones_never_restored", deletes="flag_keep_tombstone", verify={"deleted_column": "_deleted"}
    ),
    # 8. The columns fixed when the table was created: a column the source adds never arrives.
    "fixed_columns": Incremental("fixed_columns", fixed_columns=True),
    # 9, 10. Timestamps converted to a local time: Tokyo (UTC+9), La Paz (UTC-4 all year; New York is UTC-4 only
    # in summer, and the history reaches back into the winter before).
    "tokyo_time": FullCopy("tokyo_time", select=local_time("Asia/Tokyo")),
    "la_paz_time": FullCopy("la_paz_time", select=local_time("America/La_Paz")),
    # 11. Email into VARCHAR(20).
    "email_in_20_characters": Incremental(
        "email_in_20_characters",
        select=first_chars(20, "email"),
        column_types={"customers.email": "VARCHAR(20)"},
    ),
    # 12. Money as whole numbers: every DECIMAL column cast to INTEGER.
    "money_as_integer": Incremental("money_as_integer", select=whole_numbers),
    # 13. NULL text written as '' (as a CSV hop without a null marker does).
    "null_as_empty_text": FullCopy("null_as_empty_text", select=empty_for_null),
    # 14. A snapshot that opens a version only when a business column changes (the check strategy, without the
    # audit columns): a soft delete (deleted_at and updated_at only) never makes a version.
    "snapshot_on_business_columns": Snapshot("snapshot_on_business_columns", strategy="check", verify={"mode": "scd2"}),
}
