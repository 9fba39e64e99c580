"""Which states ship as packaged SQL and which are generated at run time, and what each one holds.

The classic days (baseline to day 3 at scale 1) are packaged, with their digests in the manifest.
Every other (scale, day) is generated when it is needed: its rows go in bulk, and its expected
figures are computed from the generator.
"""

from __future__ import annotations

from typing import Any

from airflow_source_simulator import packaged
from airflow_source_simulator.data.arrow import to_arrow
from airflow_source_simulator.data.digests import TableDigest
from airflow_source_simulator.data.scenario import CLASSIC, CLASSIC_DAYS, CUSTOM_ID_FLOOR, Profile, max_id
from airflow_source_simulator.data.stream import state_chunks
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import TABLES, tables_at


def is_packaged(day: int, scale: int, profile: Profile | str = CLASSIC) -> bool:
    """The classic days at scale 1 ship as SQL; so does every profile's baseline, which is the same."""
    return scale == 1 and (day == 0 or (profile == CLASSIC and day in CLASSIC_DAYS))


def largest_scale(day: int) -> int:
    """The largest scale at which every ID of state ``day`` stays below ``CUSTOM_ID_FLOOR`` (IDs grow
    in proportion to the scale)."""
    return (CUSTOM_ID_FLOOR - 1) // max(max_id(t.name, day, 1) for t in TABLES)


def check_state_size(day: int, scale: int) -> None:
    """Refuse a state whose IDs would reach ``CUSTOM_ID_FLOOR``, where rows of the user's own begin. Any
    smaller state is generated and loaded by key range, in bounded memory."""
    largest = largest_scale(day)
    if scale > largest:
        table = max(TABLES, key=lambda t: max_id(t.name, day, scale))
        raise SimulatorError(
            f"day {day} at scale {scale} would number {table.name} up to {max_id(table.name, day, scale):,}, and "
            f"IDs from {CUSTOM_ID_FLOOR:,} are for rows of your own. Use a scale up to {largest:,} for day {day}, "
            "or an earlier day."
        )


def expected_tables(day: int, scale: int, profile: Profile | str = CLASSIC) -> dict[str, dict[str, Any]]:
    """Rows, ID range and content digest of every table at (scale, day, profile)."""
    if is_packaged(day, scale, profile):
        return dict(packaged.manifest()["states"][str(day)]["tables"])
    out = {}
    for table in tables_at(profile, day):
        figures = TableDigest(table)
        for columns in state_chunks(day, scale, profile, table):
            figures.update(to_arrow(table, columns))
        out[table.name] = figures.figures()
    return out


def state_digest(day: int, scale: int, profile: Profile | str = CLASSIC) -> str:
    """The manifest's digest of a packaged state; generated states are digested only when verified."""
    return str(packaged.manifest()["states"][str(day)]["state_digest"]) if is_packaged(day, scale, profile) else ""
