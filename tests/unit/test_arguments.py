"""How the arguments users give are parsed (core/arguments.py): the values accepted, at the edges of what is
allowed, and each refusal's whole message. No database needed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_source_simulator.core.arguments import parse_day, parse_flag, parse_profile, parse_scale
from airflow_source_simulator.data.scenario import Profile
from airflow_source_simulator.errors import ArgumentError

DELTA_DAYS = "a whole number from 1 (days past 3 are generated)"
ANY_DAY = "a whole number from 0 (days past 3 are generated)"
SCALES = "a whole number from 1 to 100,000 (every volume is multiplied by it)"


def refusal(parse: Callable[..., object], *args: object, **kwargs: object) -> str:
    with pytest.raises(ArgumentError) as refused:
        parse(*args, **kwargs)
    return str(refused.value)


@pytest.mark.parametrize(
    ("value", "baseline", "day"),
    [
        (1, False, 1),
        ("3", False, 3),
        (" 7 ", False, 7),
        ("+2", False, 2),
        (3650, False, 3650),  # the last simulated day
        ("3650", False, 3650),
        (0, True, 0),
        ("0", True, 0),
        (3650, True, 3650),
    ],
)
def test_a_day_is_a_whole_number_from_1_or_from_0_for_any_state_up_to_the_last_day(
    value: object, baseline: bool, day: int
) -> None:
    parsed = parse_day(value, baseline=baseline)
    assert parsed == day and type(parsed) is int


@pytest.mark.parametrize(
    ("value", "baseline", "message"),
    [
        (None, False, f"day=None is not valid: give {DELTA_DAYS}."),
        (True, False, f"day=True is not valid: give {DELTA_DAYS}."),
        (2.0, True, f"day=2.0 is not valid: give {ANY_DAY}."),
        ([2], False, f"day=[2] is not valid: give {DELTA_DAYS}."),
        ("x", False, f"day='x' is not a whole number: give {DELTA_DAYS}."),
        ("2.5", True, f"day='2.5' is not a whole number: give {ANY_DAY}."),
        (0, False, "day=0 is not valid: days start at 1 (day 0 is the baseline; use LoadBaselineOperator)."),
        ("0", False, "day=0 is not valid: days start at 1 (day 0 is the baseline; use LoadBaselineOperator)."),
        (-1, True, "day=-1 is not valid: days start at 0, the baseline."),
        (3651, False, "day=3651 is past the last simulated day, 3650 (ten years after day 1)."),
        ("3651", True, "day=3651 is past the last simulated day, 3650 (ten years after day 1)."),
    ],
)
def test_a_day_outside_them_is_refused_with_the_whole_message(value: object, baseline: bool, message: str) -> None:
    assert refusal(parse_day, value, baseline=baseline) == message


@pytest.mark.parametrize(("value", "scale"), [(1, 1), (100_000, 100_000), (" 42 ", 42), ("100000", 100_000)])
def test_a_scale_is_a_whole_number_from_1_to_100_000(value: object, scale: int) -> None:
    parsed = parse_scale(value)
    assert parsed == scale and type(parsed) is int


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (100_001, "100001"), (True, "True"), (2.0, "2.0"), ("x", "'x'"), ("-3", "'-3'"), ("0", "0")],
)
def test_a_scale_outside_them_is_refused_with_the_whole_message(value: object, shown: str) -> None:
    assert refusal(parse_scale, value) == f"scale={shown} is not valid: give {SCALES}."


@pytest.mark.parametrize(("value", "flag"), [(True, True), (False, False)])
def test_a_flag_given_as_a_bool_is_that_bool_rendered_or_not(value: bool, flag: bool) -> None:
    assert parse_flag(value, "force") is flag
    assert parse_flag(value, "force", rendered=True) is flag


@pytest.mark.parametrize(("text", "flag"), [("true", True), (" TRUE ", True), ("True", True), ("false", False)])
def test_a_flag_a_template_rendered_may_be_its_text_in_any_case(text: str, flag: bool) -> None:
    assert parse_flag(text, "fast_forward", rendered=True) is flag


def test_a_refused_flag_names_itself_and_its_meaning_only_when_there_is_one() -> None:
    assert refusal(parse_flag, "True", "force", "takes over tables") == (
        "force='True' is not valid: give True or False (takes over tables). Nothing was changed."
    )
    assert refusal(parse_flag, "x", "verify") == "verify='x' is not valid: give True or False. Nothing was changed."
    assert refusal(parse_flag, "yes", "fast_forward", rendered=True) == (
        "fast_forward='yes' is not valid: give True or False. Nothing was changed."
    )
    # Rendered or not, a value that is neither a bool nor text is refused (not read as text).
    assert refusal(parse_flag, 1, "verify", rendered=True) == (
        "verify=1 is not valid: give True or False. Nothing was changed."
    )


def test_a_profile_is_one_of_the_change_profiles() -> None:
    assert parse_profile("classic") is Profile.CLASSIC
    assert parse_profile(Profile.CDC) is Profile.CDC
    assert refusal(parse_profile, "nope") == "profile='nope' is not a change profile: give one of classic, cdc."
