"""The ledger: one row per operation the simulator applied, in ``<shop_schema>.source_simulator_ledger``.

Its last row is the database's state. Writing it in the same transaction as the data makes every
operation safe to retry, and its ``seq`` primary key makes two concurrent writers collide instead of
both applying a day. The table's column for the profile is named ``scenario``, as ledgers written by
every earlier version have it; the code calls it the profile.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from airflow_source_simulator.core.statements import Action, Statement, Step
from airflow_source_simulator.data.canonical import NULL, SEPARATOR
from airflow_source_simulator.dialects.base import Dialect
from airflow_source_simulator.schema import LEDGER, LEDGER_COLUMNS, LEDGER_PROFILE_COLUMN, RUN_KEY, SchemaRole


class Operation(StrEnum):
    """What a ledger row records."""

    LOAD_BASELINE = "load_baseline"
    APPLY_DELTA = "apply_delta"
    FAST_FORWARD = "fast_forward"
    RESET = "reset"


# The columns an entry is read from, in LedgerEntry's field order.
_READ_COLUMNS = (
    "seq",
    "operation",
    "day",
    "scale",
    LEDGER_PROFILE_COLUMN,
    "package_version",
    "ledger_version",
    "state_digest",
)


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    operation: str
    day: int
    scale: int
    profile: str
    package_version: str
    ledger_version: int
    state_digest: str
    run_key: str | None = None  # the task run that wrote it; None outside Airflow and in older ledgers

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> LedgerEntry:
        seq, operation, day, scale, profile, version, ledger_version, digest, run_key = row
        return cls(
            int(seq),
            str(operation),
            int(day),
            int(scale),
            str(profile),
            str(version),
            int(ledger_version),
            str(digest),
            None if run_key is None else str(run_key),
        )


def last_entry_query(ledger_ref: str, *, with_run_key: bool = True) -> str:
    """The query of the ledger's last row (the database's state), in ``LedgerEntry.from_row`` order. A ledger
    written before runs were recorded has no ``run_key`` column (``with_run_key=False``): it reads as NULL."""
    columns = [*_READ_COLUMNS, RUN_KEY.name if with_run_key else "NULL"]
    return f"SELECT {', '.join(columns)} FROM {ledger_ref} WHERE seq = (SELECT MAX(seq) FROM {ledger_ref})"


def _plain(text: str) -> str:
    """Text safe in a canonical line and a literal of every dialect: Airflow's run ids already are."""
    return re.sub(r"[^A-Za-z0-9_.~:+/@-]", "_", text)


def record(dialect: Dialect, ledger_ref: str, entry: LedgerEntry, schemas: Mapping[SchemaRole, str]) -> Statement:
    """The statement appending ``entry`` to the ledger: the last statement of every writing operation."""
    values = {
        "seq": str(entry.seq),
        "operation": str(entry.operation),
        "day": str(entry.day),
        "scale": str(entry.scale),
        LEDGER_PROFILE_COLUMN: str(entry.profile),
        "package_version": entry.package_version,
        "ledger_version": str(entry.ledger_version),
        "state_digest": entry.state_digest,
        "shop_schema": schemas["shop"],
        "crm_schema": schemas["crm"],
        # Wall-clock time is metadata about the run, never part of the simulated data.
        "applied_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        RUN_KEY.name: NULL if entry.run_key is None else _plain(entry.run_key)[: RUN_KEY.length],
    }
    line = SEPARATOR.join(values[c.name] for c in LEDGER_COLUMNS)
    return Statement(
        dialect.insert_rows(ledger_ref, LEDGER, [line]), Step(Action.LEDGER, str(entry.operation), entry.day)
    )
