"""The ledger: one row per operation the simulator applied, in ``<shop_schema>.source_simulator_ledger``.

Its last row is the database's state. Writing it in the same transaction as the data makes every
operation safe to retry, and its ``seq`` primary key makes two concurrent writers collide instead of
both applying a day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from airflow_source_simulator.data.canonical import SEPARATOR
from airflow_source_simulator.platforms.base import Platform
from airflow_source_simulator.schema import LEDGER, LEDGER_COLUMNS, LEDGER_TABLE
from airflow_source_simulator.statements import Statement, Step

_READ_COLUMNS = ("seq", "operation", "day", "scale", "scenario", "package_version", "ledger_version", "state_digest")


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    operation: str
    day: int
    scale: int
    scenario: str
    package_version: str
    ledger_version: int
    state_digest: str


class Ledger:
    def __init__(self, platform: Platform, shop_schema_ref: str) -> None:
        self.platform = platform
        self.ref = f"{shop_schema_ref}.{LEDGER_TABLE}"

    def last_entry(self) -> LedgerEntry | None:
        rows = self.platform.query(
            f"SELECT {', '.join(_READ_COLUMNS)} FROM {self.ref} WHERE seq = (SELECT MAX(seq) FROM {self.ref})"
        )
        if not rows:
            return None
        seq, operation, day, scale, scenario, version, ledger_version, digest = rows[0]
        return LedgerEntry(
            int(seq),
            str(operation),
            int(day),
            int(scale),
            str(scenario),
            str(version),
            int(ledger_version),
            str(digest),
        )

    def record(self, entry: LedgerEntry, shop_schema: str, crm_schema: str) -> Statement:
        values = {
            **{name: str(getattr(entry, name)) for name in _READ_COLUMNS},
            "shop_schema": shop_schema,
            "crm_schema": crm_schema,
            # Wall-clock time is metadata about the run, never part of the simulated data.
            "applied_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        }
        line = SEPARATOR.join(values[c.name] for c in LEDGER_COLUMNS)
        return Statement(
            self.platform.insert_rows(self.ref, LEDGER, [line]), Step("ledger", entry.operation, entry.day)
        )
