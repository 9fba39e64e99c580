"""The arguments users give, parsed the same way in every layer: days, scales, profiles and flags.

Values may come as Python values or as the text a template renders ("3", "True"); anything else is
refused with a message that names the value and what is allowed.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from airflow_source_simulator.data.scenario import MAX_DAY, PROFILES, Profile
from airflow_source_simulator.errors import ArgumentError

NEXT_DAY: Final = "next"  # the day after the ledger's
AUTO_DAY: Final = "auto"  # the run's place in the DAG's schedule
DaySpec = int | Literal["next", "auto"]
MAX_SCALE = 100_000
# Whole numbers as a rendered template writes them: ASCII digits only ("³" and "٣" are digits to str.isdigit).
_WHOLE = re.compile(r"[+-]?[0-9]+")
_DIGITS = re.compile(r"[0-9]+")


def parse_day(value: object, *, baseline: bool = False) -> int:
    """A delta day (or, with ``baseline``, any state's day) from an int or an integer string (a rendered
    template); anything else is refused."""
    allowed = f"a whole number from {0 if baseline else 1} (days past 3 are generated)"
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise ArgumentError(f"day={value!r} is not valid: give {allowed}.")
    if isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise ArgumentError(f"day={value!r} is not a whole number: give {allowed}.")
        value = int(text)
    if not isinstance(value, int):
        raise ArgumentError(f"day={value!r} is not valid: give {allowed}.")
    if value < (0 if baseline else 1):
        first = "0, the baseline" if baseline else "1 (day 0 is the baseline; use LoadBaselineOperator)"
        raise ArgumentError(f"day={value} is not valid: days start at {first}.")
    if value > MAX_DAY:
        raise ArgumentError(f"day={value} is past the last simulated day, {MAX_DAY} (ten years after day 1).")
    return value


def parse_profile(value: object) -> Profile:
    if value not in PROFILES:
        raise ArgumentError(f"profile={value!r} is not a change profile: give one of {', '.join(PROFILES)}.")
    return Profile(str(value))


def parse_scale(value: object) -> int:
    """A scale factor from an int or an integer string (a rendered template); anything else is refused."""
    allowed = f"a whole number from 1 to {MAX_SCALE:,}"
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SCALE:
        raise ArgumentError(f"scale={value!r} is not valid: give {allowed} (every volume is multiplied by it).")
    return value


def parse_flag(value: object, name: str, meaning: str = "", *, rendered: bool = False) -> bool:
    """A flag: a bool, or, for a value a template ``rendered``, its text ("True", "false").

    Text is refused otherwise: ``"False"`` is truthy, and a flag that takes over or rebuilds tables must not
    be switched on by it.
    """
    if isinstance(value, bool):
        return value
    if rendered and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    because = f" ({meaning})" if meaning else ""
    raise ArgumentError(f"{name}={value!r} is not valid: give True or False{because}. Nothing was changed.")
