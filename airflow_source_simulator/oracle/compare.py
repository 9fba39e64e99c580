"""Comparing a target table with its ground truth, inside an in-memory DuckDB: both sides arrive as Arrow,
the target's columns are cast to the source's types, and the differences come back as keys.

No Python loop over rows: a scale-100 table compares in the time DuckDB takes to join it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from airflow_source_simulator.data.scenario import CUSTOM_ID_FLOOR
from airflow_source_simulator.oracle.options import FAR_FUTURE
from airflow_source_simulator.oracle.truth import CLOSED, VALID_FROM, VALID_TO
from airflow_source_simulator.schema import Column, Table

# The type each logical type is compared as (decimals at two places, timestamps as naive UTC).
_COMPARED = {
    "int": "BIGINT",
    "varchar": "VARCHAR",
    "decimal": "DECIMAL(18,2)",
    "date": "DATE",
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class Validity:
    """How an scd2 target bounds its versions: its validity columns, the valid_to of a current version
    besides NULL (None: any from year 9000 on, dbt's dbt_valid_to_current), and the column marking dbt's
    deletion records (``hard_deletes: new_record``), if it has one."""

    valid_from: str
    valid_to: str
    current: dt.datetime | None = None
    deleted: str | None = None


@dataclass
class Differences:
    """One table's differences, as keys (versions are (key, valid_from) in scd2)."""

    missing: list[Any] = field(default_factory=list)
    unexpected: list[Any] = field(default_factory=list)
    duplicated: list[Any] = field(default_factory=list)
    differing: dict[Any, dict[str, tuple[Any, Any]]] = field(default_factory=dict)  # key -> column -> (expected, found)
    not_closed: list[Any] = field(default_factory=list)  # scd2: versions of deleted keys left open
    deletion_records: list[Any] = field(default_factory=list)  # scd2: deletion records of keys never deleted
    custom_rows: int = 0  # rows of the user's own (IDs from the custom floor), left out
    found_rows: int = 0

    def merge(self, other: Differences) -> None:
        """Add the differences of another key range of the same table."""
        self.missing += other.missing
        self.unexpected += other.unexpected
        self.duplicated += other.duplicated
        self.differing.update(other.differing)
        self.not_closed += other.not_closed
        self.deletion_records += other.deletion_records
        self.custom_rows += other.custom_rows
        self.found_rows += other.found_rows


# Types a target column may have that compare with the source's as they are: no cast, no per-row work.
_AS_THEY_ARE = {
    "int": ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT"),
    "varchar": ("VARCHAR",),
    "date": ("DATE",),
    "bool": ("BOOLEAN",),
    "timestamp": ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"),
}


def _cast(column: Column, found: str, found_type: str) -> str:
    """The SQL that reads the target's column ``found`` (of DuckDB type ``found_type``) as the source's type."""
    if found_type in _AS_THEY_ARE.get(column.type, ()) or (
        column.type == "decimal" and found_type.startswith("DECIMAL")
    ):
        return found
    if column.type == "timestamp":
        if found_type == "TIMESTAMP WITH TIME ZONE":
            return f"timezone('UTC', {found})"
        return f"timezone('UTC', TRY_CAST({found} AS TIMESTAMPTZ))"
    if column.type == "bool" and found_type not in ("BOOLEAN",):
        text = f"lower(CAST({found} AS VARCHAR))"
        return f"CASE WHEN {found} IS NULL THEN NULL ELSE {text} IN ('true', 't', '1', 'yes', 'y') END"
    return f"TRY_CAST({found} AS {_COMPARED[column.type]})"


def marker(found: str, found_type: str) -> str:
    """SQL saying whether a deleted-marker column marks its row deleted: true, non-zero, or a set timestamp."""
    if found_type == "BOOLEAN":
        return f"coalesce({found}, false)"
    if found_type in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"):
        return f"coalesce({found} <> 0, false)"
    text = f"lower(trim(CAST({found} AS VARCHAR)))"
    return f"({found} IS NOT NULL AND {text} NOT IN ('', 'false', 'f', '0', 'no', 'n'))"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def engine() -> duckdb.DuckDBPyConnection:
    """The in-memory DuckDB the comparisons of one check run in, its session in UTC."""
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    return db


class Comparison:
    """An in-memory DuckDB holding one table's truth (``expected``) and the target's rows (``found``)."""

    def __init__(
        self,
        db: duckdb.DuckDBPyConnection,
        table: Table,
        expected: pa.Table,
        found: pa.Table,
        own: pa.Table | None = None,
    ) -> None:
        """In ``db`` (an in-memory DuckDB in UTC: see ``engine``). ``own``: the source's rows of the user's own,
        read as they are, which the target must hold too."""
        self.table = table
        self.db = db
        self.db.register("truth_rows", expected)
        self.db.register("found_rows", found)
        self.found_types = self._types("found_rows")
        if own is None:
            self.db.execute("CREATE OR REPLACE TEMP VIEW expected_rows AS SELECT * FROM truth_rows")
            return
        self.db.register("own_rows", own)
        types = self._types("own_rows")
        casts = ", ".join(f"{_cast(c, quoted(c.name), types[c.name])} AS {quoted(c.name)}" for c in table.columns)
        self.db.execute(
            f"CREATE OR REPLACE TEMP VIEW expected_rows AS SELECT * FROM truth_rows UNION ALL BY NAME SELECT {casts} "
            "FROM own_rows"
        )

    def _types(self, relation: str) -> dict[str, str]:
        return {str(name): str(kind) for name, kind, *_ in self.db.execute(f"DESCRIBE {relation}").fetchall()}

    def close(self) -> None:
        for name in ("truth_rows", "found_rows", "own_rows"):
            self.db.unregister(name)

    def _found_view(self, columns: Mapping[str, str], extra: Mapping[str, str]) -> None:
        """``found``: the target's rows read as the source's columns (``columns``: source -> target name), plus
        ``extra`` expressions (name -> SQL over the target's columns)."""
        select = [
            f"{_cast(c, quoted(columns[c.name]), self.found_types[columns[c.name]])} AS {quoted(c.name)}"
            for c in self.table.columns
            if c.name in columns
        ] + [f"{sql} AS {quoted(name)}" for name, sql in extra.items()]
        self.db.execute(f"CREATE OR REPLACE TEMP VIEW found_all AS SELECT {', '.join(select)} FROM found_rows")
        self.db.execute("CREATE OR REPLACE TEMP VIEW found AS SELECT * FROM found_all")

    def _keys(self, sql: str) -> list[Any]:
        rows = self.db.execute(sql).fetchall()
        return [r[0] if len(r) == 1 else tuple(r) for r in rows]

    def replica(
        self, columns: Mapping[str, str], deleted: str | None, custom_checked: bool
    ) -> tuple[Differences, list[Any]]:
        """Compare a replica: ``columns`` maps the compared source columns to the target's. ``deleted`` is the
        target's deleted-marker column: rows it marks are returned apart (their keys), not compared. Rows of
        the user's own are compared only if ``custom_checked`` (their truth came from the source)."""
        key = quoted(self.table.key)
        extra = {"_deleted": marker(quoted(deleted), self.found_types[deleted])} if deleted else {"_deleted": "false"}
        self._found_view(columns, extra)
        scope = "true" if custom_checked else f"({key} < {CUSTOM_ID_FLOOR} OR {key} IS NULL)"
        self.db.execute(f"CREATE OR REPLACE TEMP VIEW live AS SELECT * FROM found_all WHERE {scope} AND NOT _deleted")
        compared = [c.name for c in self.table.columns[1:] if c.name in columns]
        differs = " OR ".join(f"e.{quoted(c)} IS DISTINCT FROM f.{quoted(c)}" for c in compared) or "false"
        # One pass for every count; the keys are listed only for what is there (usually nothing).
        found_rows, custom, flagged_rows, duplicated, missing, unexpected, differing = self.db.execute(
            "SELECT (SELECT count(*) FROM found_rows), "
            f"(SELECT count(*) FROM found_all WHERE {key} >= {CUSTOM_ID_FLOOR}), "
            f"(SELECT count(*) FROM found_all WHERE _deleted AND {scope}), "
            f"(SELECT count(*) - count(DISTINCT {key}) FROM live), "
            f"count(*) FILTER (WHERE f.{key} IS NULL), count(*) FILTER (WHERE e.{key} IS NULL), "
            f"count(*) FILTER (WHERE e.{key} IS NOT NULL AND f.{key} IS NOT NULL AND ({differs})) "
            f"FROM expected_rows AS e FULL JOIN live AS f ON e.{key} = f.{key}"
        ).fetchall()[0]
        out = Differences(found_rows=int(found_rows), custom_rows=0 if custom_checked else int(custom))
        flagged = (
            self._keys(f"SELECT DISTINCT {key} FROM found_all WHERE _deleted AND {scope} ORDER BY 1")
            if flagged_rows
            else []
        )
        if duplicated:
            out.duplicated = self._keys(f"SELECT {key} FROM live GROUP BY 1 HAVING count(*) > 1 ORDER BY 1")
        if missing:
            out.missing = self._keys(f"SELECT {key} FROM expected_rows ANTI JOIN live USING ({key}) ORDER BY 1")
        if unexpected:
            out.unexpected = self._keys(
                f"SELECT DISTINCT {key} FROM live ANTI JOIN expected_rows USING ({key}) ORDER BY 1"
            )
        if differing:
            out.differing = self._differing([self.table.key], compared, "live")
        return out, flagged

    def scd2(self, columns: Mapping[str, str], validity: Validity) -> Differences:
        """Compare versions: a version is (key, valid_from); its values and its valid_to are compared, and a
        deleted key's last version must be closed (any time). dbt's deletion records (``validity.deleted``)
        are not versions: each must be of a key the source deleted."""
        stamp = "timezone('UTC', TRY_CAST({} AS TIMESTAMPTZ))"
        valid_to = stamp.format(quoted(validity.valid_to))
        current = validity.current or FAR_FUTURE
        test = "=" if validity.current else ">="
        extra = {
            VALID_FROM: stamp.format(quoted(validity.valid_from)),
            VALID_TO: f"CASE WHEN {valid_to} {test} TIMESTAMP '{current.isoformat(sep=' ')}' THEN NULL ELSE {valid_to} END",
        }
        if validity.deleted:
            extra["_deleted"] = marker(quoted(validity.deleted), self.found_types[validity.deleted])
        self._found_view(columns, extra)
        key, vf = quoted(self.table.key), quoted(VALID_FROM)
        out = Differences(found_rows=int(self.db.execute("SELECT count(*) FROM found_all").fetchall()[0][0]))
        if validity.deleted:
            self.db.execute("CREATE OR REPLACE TEMP VIEW found AS SELECT * FROM found_all WHERE NOT _deleted")
            # A deletion record stands for a deleted key: one whose versions the truth closes.
            out.deletion_records = self._keys(
                f"SELECT DISTINCT {key} FROM found_all WHERE _deleted AND {key} NOT IN "
                f"(SELECT {key} FROM expected_rows WHERE {CLOSED}) ORDER BY 1"
            )
        out.duplicated = self._keys(f"SELECT {key}, {vf} FROM found GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2")
        out.missing = self._keys(
            f"SELECT {key}, {vf} FROM expected_rows ANTI JOIN found USING ({key}, {vf}) ORDER BY 1, 2"
        )
        out.unexpected = self._keys(
            f"SELECT DISTINCT {key}, {vf} FROM found ANTI JOIN expected_rows USING ({key}, {vf}) ORDER BY 1, 2"
        )
        compared = [c.name for c in self.table.columns[1:] if c.name in columns]
        out.differing = self._differing([self.table.key, VALID_FROM], [*compared, VALID_TO], "found", skip_closed=True)
        out.not_closed = self._keys(
            f"SELECT e.{key}, e.{vf} FROM expected_rows AS e JOIN found AS f USING ({key}, {vf}) "
            f"WHERE e.{CLOSED} AND f.{quoted(VALID_TO)} IS NULL ORDER BY 1, 2"
        )
        return out

    def _differing(
        self, keys: list[str], compared: list[str], found: str, *, skip_closed: bool = False
    ) -> dict[Any, dict[str, tuple[Any, Any]]]:
        """Matched rows whose compared columns differ: per key, each differing column's (expected, found)."""
        if not compared:
            return {}
        on = ", ".join(quoted(k) for k in keys)
        distinct = [
            f"e.{quoted(c)} IS DISTINCT FROM f.{quoted(c)}"
            + (f" AND NOT e.{CLOSED}" if skip_closed and c == VALID_TO else "")
            for c in compared
        ]
        select = ", ".join(f"e.{quoted(k)}" for k in keys)
        values = ", ".join(f"e.{quoted(c)}, f.{quoted(c)}" for c in compared)
        closed = f"e.{CLOSED}" if skip_closed else "false"
        rows = self.db.execute(
            f"SELECT {select}, {closed}, {values} FROM expected_rows AS e JOIN {found} AS f USING ({on}) "
            f"WHERE {' OR '.join(distinct)} ORDER BY {select}"
        ).fetchall()
        out: dict[Any, dict[str, tuple[Any, Any]]] = {}
        for row in rows:
            key = row[0] if len(keys) == 1 else tuple(row[: len(keys)])
            is_closed, pairs = row[len(keys)], row[len(keys) + 1 :]
            diff = {
                name: (pairs[2 * i], pairs[2 * i + 1])
                for i, name in enumerate(compared)
                if pairs[2 * i] != pairs[2 * i + 1] and not (is_closed and name == VALID_TO)
            }
            if diff:
                out[key] = diff
        return out
