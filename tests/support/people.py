"""Valid synthetic ID numbers for tests (real area codes, correct check character)."""

from __future__ import annotations

from stdnum.cn import ric


def make_id_number(area: str = "410721", birth: str = "19800101", seq: str = "001") -> str:
    first17 = area + birth + seq
    return first17 + ric.calc_check_digit(first17 + "0")  # it drops the last char
