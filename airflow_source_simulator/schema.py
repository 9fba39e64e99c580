"""The one definition of the simulated source tables: every DDL, digest and contract derives from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from airflow_source_simulator.data.scenario import CDC, SCHEMA_CHANGE_DAY

LogicalType = Literal["int", "varchar", "decimal", "timestamp", "date", "bool"]
SchemaRole = Literal["shop", "crm"]


@dataclass(frozen=True)
class Column:
    name: str
    type: LogicalType
    nullable: bool = False
    length: int | None = None  # VARCHAR length; DECIMAL is always (10,2)


@dataclass(frozen=True)
class Table:
    name: str
    role: SchemaRole
    columns: tuple[Column, ...]

    @property
    def key(self) -> str:
        return self.columns[0].name

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


_AUDIT = (
    Column("created_at", "timestamp"),
    Column("updated_at", "timestamp"),
    Column("deleted_at", "timestamp", nullable=True),
)


def _table(name: str, role: SchemaRole, *columns: Column) -> Table:
    return Table(name, role, (*columns, *_AUDIT))


def _varchar(name: str, length: int) -> Column:
    return Column(name, "varchar", length=length)


# In foreign-key order: a table only references tables listed before it.
TABLES: tuple[Table, ...] = (
    _table(
        "customers",
        "shop",
        Column("customer_id", "int"),
        _varchar("first_name", 50),
        _varchar("last_name", 50),
        _varchar("email", 100),
    ),
    _table(
        "products",
        "shop",
        Column("product_id", "int"),
        _varchar("name", 100),
        _varchar("category", 50),
        Column("price", "decimal"),
    ),
    _table(
        "orders",
        "shop",
        Column("order_id", "int"),
        Column("customer_id", "int"),
        Column("order_date", "date"),
        _varchar("status", 20),
    ),
    _table(
        "order_items",
        "shop",
        Column("order_item_id", "int"),
        Column("order_id", "int"),
        Column("product_id", "int"),
        Column("quantity", "int"),
        Column("unit_price", "decimal"),
    ),
    _table(
        "payments",
        "shop",
        Column("payment_id", "int"),
        Column("order_id", "int"),
        _varchar("payment_method", 20),
        Column("amount", "decimal"),
    ),
    _table(
        "campaigns",
        "crm",
        Column("campaign_id", "int"),
        _varchar("campaign_name", 100),
        Column("start_date", "date"),
        Column("end_date", "date"),
        Column("budget", "decimal"),
    ),
    _table(
        "email_activity",
        "crm",
        Column("activity_id", "int"),
        Column("customer_id", "int"),
        Column("campaign_id", "int"),
        Column("sent_date", "timestamp"),
        Column("opened", "bool"),
        Column("clicked", "bool"),
    ),
    _table(
        "web_sessions",
        "crm",
        Column("session_id", "int"),
        Column("customer_id", "int"),
        Column("session_start", "timestamp"),
        Column("session_end", "timestamp"),
        Column("page_views", "int"),
    ),
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


@dataclass(frozen=True)
class Reference:
    """``table.column`` holds keys of ``target_table`` (its first column). The DDL declares no FOREIGN KEY
    constraints, so the references are kept here as data: the diagrams render them, and a test checks
    that the generated rows honour them."""

    table: str
    column: str
    target_table: str

    @property
    def target_column(self) -> str:
        return TABLES_BY_NAME[self.target_table].key


# Every reference between the tables, in TABLES order; two cross the schemas (crm -> shop).
REFERENCES: tuple[Reference, ...] = (
    Reference("orders", "customer_id", "customers"),
    Reference("order_items", "order_id", "orders"),
    Reference("order_items", "product_id", "products"),
    Reference("payments", "order_id", "orders"),
    Reference("email_activity", "customer_id", "customers"),
    Reference("email_activity", "campaign_id", "campaigns"),
    Reference("web_sessions", "customer_id", "customers"),
)

LEDGER_TABLE = "source_simulator_ledger"
# The ledger's column for the change profile keeps the name every ledger written so far has.
LEDGER_PROFILE_COLUMN = "scenario"
LEDGER_COLUMNS: tuple[Column, ...] = (
    Column("seq", "int"),
    _varchar("operation", 20),
    Column("day", "int"),
    Column("scale", "int"),
    _varchar(LEDGER_PROFILE_COLUMN, 20),
    _varchar("shop_schema", 128),
    _varchar("crm_schema", 128),
    _varchar("package_version", 32),
    Column("ledger_version", "int"),
    _varchar("state_digest", 64),
    Column("applied_at", "timestamp"),
    # Which task run wrote the row (dag/run/task/map index), so that a retry of a run whose commit went
    # through knows the day is its own. Added after the first release: ledgers without it gain it.
    Column("run_key", "varchar", nullable=True, length=250),
)
RUN_KEY = LEDGER_COLUMNS[-1]
LEDGER = Table(LEDGER_TABLE, "shop", LEDGER_COLUMNS)
# Bumped when the ledger's layout or meaning changes; a database written by a newer layout is refused.
LEDGER_VERSION = 1


# The cdc profile's additive schema change: on SCHEMA_CHANGE_DAY customers gains a nullable column,
# appended after the audit columns (where ALTER TABLE ... ADD puts it on every engine).
LOYALTY_TIER = Column("loyalty_tier", "varchar", nullable=True, length=20)
TABLES_BY_NAME_CDC_LATE: dict[str, Table] = {
    **TABLES_BY_NAME,
    "customers": Table("customers", "shop", (*TABLES_BY_NAME["customers"].columns, LOYALTY_TIER)),
}


def tables_at(profile: str, day: int) -> tuple[Table, ...]:
    """The tables' definitions in the state (profile, day): the schema change included once it happened."""
    if profile == CDC and day >= SCHEMA_CHANGE_DAY:
        return tuple(TABLES_BY_NAME_CDC_LATE[t.name] for t in TABLES)
    return TABLES
