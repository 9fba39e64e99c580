"""How a pipeline's target is laid out, as the user describes it: where each table is, which columns are the
loader's own, how the target names columns, marks deletes and bounds versions. Checked before anything is
read, with messages that name the bad value and what is allowed."""

from __future__ import annotations

import datetime as dt
import fnmatch
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypedDict, Unpack

from airflow_source_simulator.core.names import validate_schema_name
from airflow_source_simulator.defaults import CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.errors import ArgumentError
from airflow_source_simulator.schema import LOYALTY_TIER, TABLES, SchemaRole, Table


class Mode(StrEnum):
    """What the target holds: the source's current rows, or every end-of-day version of them."""

    REPLICA = "replica"
    SCD2 = "scd2"


class HardDeletes(StrEnum):
    """Where a row the source hard-deleted must be in a replica: gone, or kept with the deleted marker set."""

    ABSENT = "absent"
    FLAGGED = "flagged"


# dbt snapshot's validity columns, and the ones it adds besides (never compared).
DBT_VALID_FROM = "dbt_valid_from"
DBT_VALID_TO = "dbt_valid_to"
DBT_OWN_COLUMNS = ("dbt_scd_id", "dbt_updated_at", "dbt_is_deleted")
# dbt's `hard_deletes: new_record` marks the version it adds for a deleted key with this column ('True').
DBT_IS_DELETED = "dbt_is_deleted"
# A valid_to from this year on marks a current version (dbt's `dbt_valid_to_current`, e.g. 9999-12-31): no
# simulated day comes near it (day 3650 is in 2034).
FAR_FUTURE = dt.datetime(9000, 1, 1)
_FIELDS = ("schema", "table")
# Every column any source table has at any day: what column_names may rename and deleted_column may not be.
SOURCE_COLUMNS = frozenset(c.name for t in TABLES for c in t.columns) | {LOYALTY_TIER.name}


@dataclass(frozen=True)
class Layout:
    """The target's layout, validated."""

    schemas: Mapping[SchemaRole, str]  # the target schema of each source schema role
    table_name: str  # a format string over {schema} (the source schema's name) and {table}
    mode: Mode = Mode.REPLICA
    ignore_columns: tuple[str, ...] = ()  # glob patterns of the loader's own columns
    column_names: Mapping[str, str] = field(default_factory=dict)  # source column (or table.column) -> target's
    deleted_column: str | None = None
    hard_deletes: HardDeletes = HardDeletes.ABSENT
    valid_from_column: str = DBT_VALID_FROM
    valid_to_column: str = DBT_VALID_TO
    valid_to_current: dt.datetime | None = None  # scd2: the valid_to of a current version, besides NULL
    tables: frozenset[str] | None = None  # the source tables checked (by name); None: every table
    source_schemas: Mapping[SchemaRole, str] = field(default_factory=lambda: {"shop": SHOP_SCHEMA, "crm": CRM_SCHEMA})

    def target_table(self, table: Table) -> tuple[str, str]:
        """(schema, table) where the target holds ``table``."""
        name = self.table_name.format(schema=self.source_schemas[table.role], table=table.name)
        return self.schemas[table.role], name

    def target_column(self, table: Table, column: str) -> str:
        """The target's name of a source column (renames by ``table.column`` win over ``column``)."""
        return self.column_names.get(f"{table.name}.{column}", self.column_names.get(column, column))

    def ignored(self, column: str) -> bool:
        """Whether a target column is the loader's own (or the snapshot tool's), never compared."""
        own = DBT_OWN_COLUMNS if self.mode == Mode.SCD2 else ()
        return column in own or any(fnmatch.fnmatchcase(column, p) for p in self.ignore_columns)


class LayoutOptions(TypedDict, total=False):
    """How the user describes a target, besides its schema (see ``Layout``)."""

    table_name: str
    mode: str
    ignore_columns: Sequence[str] | None
    column_names: Mapping[str, str] | None
    deleted_column: str | None
    hard_deletes: str | None
    valid_from_column: str
    valid_to_column: str
    valid_to_current: str | dt.datetime | None
    tables: Sequence[str] | None


def layout(
    target_schema: str | Mapping[str, str],
    source_schemas: Mapping[SchemaRole, str] | None = None,
    **options: Unpack[LayoutOptions],
) -> Layout:
    """The validated layout; every refusal names the bad value and what is allowed."""
    mode = options.get("mode", Mode.REPLICA)
    deleted = options.get("deleted_column")
    deleted_column = None if deleted is None else _name(deleted, "deleted_column")
    hard_deletes = options.get("hard_deletes")
    sources: dict[SchemaRole, str] = dict(source_schemas or {"shop": SHOP_SCHEMA, "crm": CRM_SCHEMA})
    if mode not in tuple(Mode):
        raise ArgumentError(f"mode={mode!r} is not a target mode: give one of {', '.join(Mode)}.")
    chosen = Mode(mode)
    schemas = _target_schemas(target_schema, sources)
    table_name = _table_name(options.get("table_name", "{table}"))
    patterns = _patterns(options.get("ignore_columns"))
    if hard_deletes is not None and hard_deletes not in tuple(HardDeletes):
        raise ArgumentError(f"hard_deletes={hard_deletes!r} is not valid: give one of {', '.join(HardDeletes)}.")
    deletes = (
        HardDeletes(hard_deletes) if hard_deletes else (HardDeletes.FLAGGED if deleted_column else HardDeletes.ABSENT)
    )
    if deletes == HardDeletes.FLAGGED and not deleted_column:
        raise ArgumentError(
            "hard_deletes='flagged' needs deleted_column: the target column that marks a deleted row "
            "(e.g. '_fivetran_deleted' or '_ab_cdc_deleted_at')."
        )
    if deleted_column and deleted_column.lower() in SOURCE_COLUMNS:
        raise ArgumentError(
            f"deleted_column={deleted_column!r} is a column of the source, compared like any other (deleted_at is "
            "the source's soft delete: a soft-deleted row is still in the source). deleted_column names the "
            "loader's own marker of a row the source hard-deleted, e.g. '_fivetran_deleted' or '_dlt_deleted'."
        )
    if chosen == Mode.SCD2 and deleted_column:
        raise ArgumentError("deleted_column is for mode='replica': in scd2 a deleted key's last version is closed.")
    return Layout(
        schemas=schemas,
        table_name=table_name,
        mode=chosen,
        ignore_columns=patterns,
        column_names=_column_names(options.get("column_names")),
        deleted_column=deleted_column,
        hard_deletes=deletes,
        valid_from_column=_name(options.get("valid_from_column", DBT_VALID_FROM), "valid_from_column"),
        valid_to_column=_name(options.get("valid_to_column", DBT_VALID_TO), "valid_to_column"),
        valid_to_current=_timestamp(options.get("valid_to_current"), "valid_to_current"),
        tables=_tables(options.get("tables"), sources),
        source_schemas=sources,
    )


def _name(value: object, parameter: str) -> str:
    """A target column's name: any non-empty text (the catalog's spelling, quoted when read)."""
    if not isinstance(value, str) or not value:
        raise ArgumentError(f"{parameter}={value!r} is not valid: give the target column's name, as text.")
    return value


def _table_name(value: object) -> str:
    """``table_name``: text with {table} and optionally {schema}, and no other field, index, attribute,
    conversion or format (a str.format field can reach attributes of the values)."""
    example = "e.g. '{table}' or '{schema}__{table}'"
    if not isinstance(value, str):
        raise ArgumentError(f"table_name={value!r} is not valid: give text holding {{table}}, {example}.")
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(value) if f is not None]
    except ValueError as error:
        raise ArgumentError(
            f"table_name={value!r} is not valid ({error}): write braces as {{{{ and }}}}; the only fields are "
            f"{{schema}} and {{table}}, {example}."
        ) from None
    for name, spec, conversion in fields:
        if name not in _FIELDS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ArgumentError(
                f"table_name={value!r} has the field {shown}: the only fields are {{schema}} and {{table}}, as they "
                f"are (no index, attribute, conversion or format), {example}."
            )
    if "table" not in (f for f, _, _ in fields):
        raise ArgumentError(f"table_name={value!r} must hold {{table}} (and optionally {{schema}}), {example}.")
    return value


def _column_names(value: object) -> dict[str, str]:
    """``column_names``: source column (or table.column) -> the target's name, each a column the source has."""
    if value is None:
        return {}
    example = "e.g. {'email': 'email_address', 'orders.status': 'order_status'}"
    if not isinstance(value, Mapping):
        raise ArgumentError(
            f"column_names={value!r} is not valid: give a mapping of source column to target name, {example}."
        )
    out = {}
    tables = {t.name: set(t.column_names) | ({LOYALTY_TIER.name} if t.name == "customers" else set()) for t in TABLES}
    for key, name in value.items():
        if not isinstance(key, str) or not isinstance(name, str) or not name:
            raise ArgumentError(
                f"column_names has {key!r}: {name!r}; both must be text (source column -> target name), {example}."
            )
        table, _, column = key.rpartition(".")
        if table and table not in tables:
            raise ArgumentError(
                f"column_names names {key!r}, but {table!r} is not a source table: give one of {', '.join(tables)}."
            )
        known = tables[table] if table else SOURCE_COLUMNS
        if column not in known:
            where = f"the source table {table}" if table else "any source table"
            raise ArgumentError(
                f"column_names names {key!r}, but {column!r} is not a column of {where}: the keys are the source's "
                f"columns (as 'column' or 'table.column'), the values the target's names, {example}."
            )
        out[key] = name
    return out


def _timestamp(value: object, parameter: str) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if isinstance(value, dt.datetime) else None
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=None) if isinstance(value, str) else None
    except ValueError:
        pass
    raise ArgumentError(
        f"{parameter}={value!r} is not a timestamp: give the value the target's valid_to holds for a current "
        "version, e.g. '9999-12-31' (dbt's dbt_valid_to_current), or leave it out (NULL, or any date from year "
        "9000 on, means current)."
    )


def _tables(value: object, sources: Mapping[SchemaRole, str]) -> frozenset[str] | None:
    """``tables``: the source tables to check, as ``table`` or ``schema.table``."""
    if value is None:
        return None
    names = {t.name: t for t in TABLES}
    allowed = ", ".join(f"{sources[t.role]}.{t.name}" for t in TABLES)
    if isinstance(value, str) or not isinstance(value, Sequence | set | frozenset) or not value:
        raise ArgumentError(
            f"tables={value!r} is not valid: give a list of source tables, as 'table' or 'schema.table' "
            f"(e.g. ['customers', 'jaffle_crm.web_sessions']), from: {allowed}."
        )
    out = set()
    for item in value:
        schema, _, name = item.rpartition(".") if isinstance(item, str) else ("", "", "")
        table = names.get(name)
        if table is None or (schema and schema.lower() != sources[table.role].lower()):
            raise ArgumentError(f"tables names {item!r}, which is not a source table: give names from {allowed}.")
        out.add(name)
    return frozenset(out)


def _target_schemas(target_schema: object, sources: Mapping[SchemaRole, str]) -> dict[SchemaRole, str]:
    if isinstance(target_schema, str):
        name = validate_schema_name(target_schema, "target_schema")
        return {"shop": name, "crm": name}
    if not isinstance(target_schema, Mapping):
        raise ArgumentError(
            f"target_schema={target_schema!r} is not valid: give one schema name for both source schemas, or a "
            f"mapping from each source schema to its target schema, e.g. {{'{sources['shop']}': 'raw_shop', "
            f"'{sources['crm']}': 'raw_crm'}}."
        )
    roles = {name.lower(): role for role, name in sources.items()}
    out: dict[SchemaRole, str] = {}
    for key, value in target_schema.items():
        role = roles.get(str(key).lower())
        if role is None:
            raise ArgumentError(
                f"target_schema names {key!r}, which is not a source schema: the keys are "
                f"{sources['shop']!r} and {sources['crm']!r}."
            )
        if role in out:
            raise ArgumentError(f"target_schema names the source schema {sources[role]!r} twice; name it once.")
        out[role] = validate_schema_name(value, f"target_schema[{key!r}]")
    missing = [sources[r] for r in ("shop", "crm") if r not in out]
    if missing:
        raise ArgumentError(f"target_schema gives no target schema for {', '.join(map(repr, missing))}.")
    return out


def _patterns(ignore_columns: object) -> tuple[str, ...]:
    if ignore_columns is None:
        return ()
    if isinstance(ignore_columns, str) or not all(isinstance(p, str) and p for p in ignore_columns):  # type: ignore[attr-defined]
        raise ArgumentError(
            f"ignore_columns={ignore_columns!r} is not valid: give a list of column names or glob patterns, "
            "e.g. ['_dlt_*', '_fivetran_*']."
        )
    return tuple(ignore_columns)  # type: ignore[arg-type]
