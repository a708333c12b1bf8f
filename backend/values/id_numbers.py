"""Resident ID numbers (GB 11643-1999): normalisation and validation with python-stdnum.

We do not call `stdnum.cn.ric.validate` as is: it also demands that the area code existed in the
holder's birth year, which rejects real people (codes such as 410721 date from 1983, and ID numbers
were issued later with the then-current code to people of every age). We check the same parts
otherwise: length and digits, the ISO 7064 MOD 11-2 check character, a real birth date, and an area
code present in stdnum's table of codes.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from stdnum import exceptions as stdnum_errors
from stdnum import numdb
from stdnum.cn import ric

from backend.errors import Refused


class InvalidIdNumber(Refused, ValueError):
    """`str(exc)` is a Chinese sentence for the person who typed the number; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, reason=code, field="id_number")
        self.code = code


# Already compact: stdnum's compact() is slow (~20 µs) and bulk imports call this millions of times.
_COMPACT = re.compile(r"[0-9]{17}[0-9Xx]")
# ASCII digits only: str.isdigit() also accepts '４' and '²', which int() then chokes on.
_FORMAT = re.compile(r"[0-9]{17}[0-9X]")


def normalise(value: str) -> str:
    """Strip spaces and upper-case the check character (a lower-case x is accepted)."""
    if value and len(value) == 18 and _COMPACT.fullmatch(value):
        return value.upper()
    return ric.compact(value or "").upper()


def validate(value: str, *, today: date) -> str:
    """Return the normalised 18-character ID number or raise InvalidIdNumber with a clear reason."""
    return validate_with_birth_date(value, today=today)[0]


def validate_with_birth_date(value: str, *, today: date) -> tuple[str, date]:
    """`validate`, plus the birth date it had to read anyway (bulk imports need both)."""
    number = normalise(value)
    if len(number) != 18:
        raise InvalidIdNumber("id_length", f"身份证号应为18位，您输入了{len(number)}位")
    if not _FORMAT.fullmatch(number):
        raise InvalidIdNumber("id_format", "身份证号应为17位数字加1位数字或X")
    if ric.calc_check_digit(number) != number[17]:
        raise InvalidIdNumber("id_check_char", "身份证号校验位不正确，请核对号码")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("id_birth_date", "身份证号中的出生日期不正确") from None
    if born > today:
        raise InvalidIdNumber("id_birth_date", "身份证号中的出生日期晚于今天")
    if not _area_code_known(number[:6]):
        raise InvalidIdNumber("id_area_code", f"身份证号前6位地区码{number[:6]}不存在")
    return number, born


@lru_cache(maxsize=8192)
def _area_code_known(area: str) -> bool:
    # The numdb lookup costs ~40 µs; bulk imports validate millions of numbers from a few
    # thousand area codes, so remember the answer per code.
    return bool(numdb.get("cn/loc").info(area)[-1][1])


def birth_date(number: str) -> date:
    """The birth date digits of an ID number (as ric.get_birth_date, without its slow compact())."""
    number = normalise(number)
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise stdnum_errors.InvalidComponent() from None
