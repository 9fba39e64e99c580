"""Which states ship as packaged SQL and which are generated at run time, and what each one holds.

The classic days (baseline to day 3 at scale 1) are packaged, with their digests in the manifest.
Every other (scale, day) is generated when it is needed: its rows go in bulk, and its expected
figures are computed from the generator.
"""

from __future__ import annotations

from typing import Any

from airflow_source_simulator import packaged
from airflow_source_simulator.data.canonical import canonical_rows, digest
from airflow_source_simulator.data.generate import state as generated_state
from airflow_source_simulator.data.scenario import CLASSIC, CLASSIC_DAYS, Profile, max_id
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import TABLES, tables_at

# Rows of one state a worker generates in memory (NumPy columns, about 200 bytes a row at the peak):
# beyond this a task would exhaust an ordinary worker, so it is refused up front. It also keeps every
# generated ID below CUSTOM_ID_FLOOR, which a unit test checks.
MAX_ROWS_IN_MEMORY = 40_000_000


def is_packaged(day: int, scale: int, profile: Profile | str = CLASSIC) -> bool:
    """The classic days at scale 1 ship as SQL; so does every profile's baseline, which is the same."""
    return scale == 1 and (day == 0 or (profile == CLASSIC and day in CLASSIC_DAYS))


def check_state_size(day: int, scale: int) -> None:
    """Refuse a state too large to generate in one worker's memory. The cap also keeps every generated
    ID below ``CUSTOM_ID_FLOOR``: a table's IDs run 1..max_id, and max_id is below the state's rows."""
    rows = sum(max_id(t.name, day, scale) for t in TABLES)
    if rows > MAX_ROWS_IN_MEMORY:
        raise SimulatorError(
            f"day {day} at scale {scale} holds about {rows:,} rows, more than one worker generates in memory "
            f"({MAX_ROWS_IN_MEMORY:,}). Use a smaller scale or an earlier day."
        )


def expected_tables(day: int, scale: int, profile: Profile | str = CLASSIC) -> dict[str, dict[str, Any]]:
    """Rows, ID range and content digest of every table at (scale, day, profile)."""
    if is_packaged(day, scale, profile):
        return dict(packaged.manifest()["states"][str(day)]["tables"])
    state = generated_state(day, scale, profile)
    out = {}
    for table in tables_at(profile, day):
        keys = state.table(table.name)[table.key]
        out[table.name] = {
            "rows": int(keys.size),
            "min_id": int(keys.min()) if keys.size else None,
            "max_id": int(keys.max()) if keys.size else None,
            "digest": digest(canonical_rows(table, state.table(table.name))),
        }
    return out


def state_digest(day: int, scale: int, profile: Profile | str = CLASSIC) -> str:
    """The manifest's digest of a packaged state; generated states are digested only when verified."""
    return str(packaged.manifest()["states"][str(day)]["state_digest"]) if is_packaged(day, scale, profile) else ""
