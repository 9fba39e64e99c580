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
from airflow_source_simulator.data.scenario import CLASSIC, CLASSIC_DAYS, CUSTOM_ID_FLOOR, MAX_DAY, PROFILES, max_id
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import TABLES, tables_at

MAX_SCALE = 100_000


def is_packaged(day: int, scale: int, profile: str = CLASSIC) -> bool:
    """The classic days at scale 1 ship as SQL; so does every profile's baseline, which is the same."""
    return scale == 1 and (day == 0 or (profile == CLASSIC and day in CLASSIC_DAYS))


def parse_day(value: object, *, baseline: bool = False) -> int:
    """A delta day (or, with ``baseline``, any state's day) from an int or an integer string (a rendered
    template); anything else is refused."""
    allowed = f"a whole number from {0 if baseline else 1} (days past 3 are generated)"
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise SimulatorError(f"day={value!r} is not valid: give {allowed}.")
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("+-").isdigit():
            raise SimulatorError(f"day={value!r} is not a whole number: give {allowed}.")
        value = int(text)
    if not isinstance(value, int):
        raise SimulatorError(f"day={value!r} is not valid: give {allowed}.")
    if value < (0 if baseline else 1):
        first = "0, the baseline" if baseline else "1 (day 0 is the baseline; use LoadBaselineOperator)"
        raise SimulatorError(f"day={value} is not valid: days start at {first}.")
    if value > MAX_DAY:
        raise SimulatorError(f"day={value} is past the last simulated day, {MAX_DAY} (ten years after day 1).")
    return value


def parse_profile(value: object) -> str:
    if value not in PROFILES:
        raise SimulatorError(f"profile={value!r} is not a change profile: give one of {', '.join(PROFILES)}.")
    return str(value)


def parse_scale(value: object) -> int:
    """A scale factor from an int or an integer string (a rendered template); anything else is refused."""
    allowed = f"a whole number from 1 to {MAX_SCALE:,}"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SCALE:
        raise SimulatorError(f"scale={value!r} is not valid: give {allowed} (every volume is multiplied by it).")
    return value


# Rows of one state a worker generates in memory (NumPy columns, about 200 bytes a row at the peak):
# beyond this a task would exhaust an ordinary worker, so it is refused up front.
MAX_ROWS_IN_MEMORY = 40_000_000


def check_state_size(day: int, scale: int) -> None:
    """Refuse a state too large to generate in one worker's memory. The cap also keeps every generated
    ID below ``CUSTOM_ID_FLOOR``: a table's IDs run 1..max_id, and max_id is below the state's rows."""
    rows = sum(max_id(t.name, day, scale) for t in TABLES)
    if rows > MAX_ROWS_IN_MEMORY:
        raise SimulatorError(
            f"day {day} at scale {scale} holds about {rows:,} rows, more than one worker generates in memory "
            f"({MAX_ROWS_IN_MEMORY:,}). Use a smaller scale or an earlier day."
        )


assert MAX_ROWS_IN_MEMORY < CUSTOM_ID_FLOOR


def expected_tables(day: int, scale: int, profile: str = CLASSIC) -> dict[str, dict[str, Any]]:
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


def state_digest(day: int, scale: int, profile: str = CLASSIC) -> str:
    """The manifest's digest of a packaged state; generated states are digested only when verified."""
    return str(packaged.manifest()["states"][str(day)]["state_digest"]) if is_packaged(day, scale, profile) else ""
