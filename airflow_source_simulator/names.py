"""Validation of the names users pass in: nothing reaches SQL unless it is a plain identifier."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def validate_schema_name(value: object, parameter: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{parameter}={value!r} is not a plain identifier: use 1-63 ASCII letters, digits and "
            "underscores, starting with a letter or underscore (for example 'jaffle_shop')."
        )
    return value
