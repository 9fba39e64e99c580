"""How a pipeline's target is laid out, as the user describes it: where each table is, which columns are the
loader's own, how the target names columns, marks deletes and bounds versions. Checked before anything is
read, with messages that name the bad value and what is allowed."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypedDict, Unpack

from airflow_source_simulator.core.names import validate_schema_name
from airflow_source_simulator.defaults import CRM_SCHEMA, SHOP_SCHEMA
from airflow_source_simulator.errors import ArgumentError
from airflow_source_simulator.schema import TABLES, SchemaRole, Table


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


def layout(
    target_schema: str | Mapping[str, str],
    source_schemas: Mapping[SchemaRole, str] | None = None,
    **options: Unpack[LayoutOptions],
) -> Layout:
    """The validated layout; every refusal names the bad value and what is allowed."""
    table_name = options.get("table_name", "{table}")
    mode = options.get("mode", Mode.REPLICA)
    deleted_column = options.get("deleted_column")
    hard_deletes = options.get("hard_deletes")
    sources: dict[SchemaRole, str] = dict(source_schemas or {"shop": SHOP_SCHEMA, "crm": CRM_SCHEMA})
    if mode not in tuple(Mode):
        raise ArgumentError(f"mode={mode!r} is not a target mode: give one of {', '.join(Mode)}.")
    chosen = Mode(mode)
    schemas = _target_schemas(target_schema, sources)
    if not isinstance(table_name, str) or "{table}" not in table_name:
        raise ArgumentError(
            f"table_name={table_name!r} must be a format string holding {{table}} (and optionally {{schema}}), "
            "e.g. '{table}' or '{schema}__{table}'."
        )
    try:  # every table's name, formatted once: a bad placeholder is refused here
        for t in TABLES:
            table_name.format(schema=sources[t.role], table=t.name)
    except (KeyError, IndexError, ValueError) as error:
        raise ArgumentError(
            f"table_name={table_name!r} is not a format string over {{schema}} and {{table}}: {error}."
        ) from None
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
    if chosen == Mode.SCD2 and deleted_column:
        raise ArgumentError("deleted_column is for mode='replica': in scd2 a deleted key's last version is closed.")
    return Layout(
        schemas=schemas,
        table_name=table_name,
        mode=chosen,
        ignore_columns=patterns,
        column_names=dict(options.get("column_names") or {}),
        deleted_column=deleted_column,
        hard_deletes=deletes,
        valid_from_column=options.get("valid_from_column", DBT_VALID_FROM),
        valid_to_column=options.get("valid_to_column", DBT_VALID_TO),
        source_schemas=sources,
    )


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
