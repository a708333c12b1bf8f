"""Region codes (12-digit 行政区划) and the scope rule that keeps staff inside their region.

Pure functions over strings: the code tells the level (city 4 significant digits, county 6,
township 9, village 12), and a staff member's scope is the prefix of their region's code.
"""

from __future__ import annotations

import re

_SIGNIFICANT = {"city": 4, "county": 6, "township": 9, "village": 12}
_DIGITS = re.compile(r"^\d{4}(\d{2})?(\d{3})?(\d{3})?$")


class InvalidRegionCode(ValueError):
    pass


def normalise(code: str) -> str:
    """Accept 4, 6, 9 or 12 digits (e.g. '410721' for a county) and return the 12-digit code."""
    code = (code or "").strip()
    if not _DIGITS.match(code):
        raise InvalidRegionCode(f"region code must be 4, 6, 9 or 12 digits, got {code!r}")
    return code.ljust(12, "0")


def level_of(code: str) -> str:
    code = normalise(code)
    if code[4:] == "00000000":
        return "city"
    if code[6:] == "000000":
        return "county"
    if code[9:] == "000":
        return "township"
    return "village"


def scope_prefix(code: str) -> str:
    """The prefix every code inside this region starts with."""
    return normalise(code)[: _SIGNIFICANT[level_of(code)]]


def in_scope(scope_code: str, code: str) -> bool:
    return normalise(code).startswith(scope_prefix(scope_code))


def county_of(code: str) -> str:
    return normalise(code)[:6] + "000000"
