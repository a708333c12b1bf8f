from datetime import date

import pytest

from backend.values.id_numbers import InvalidIdNumber, birth_date, validate
from tests.support.people import make_id_number

TODAY = date(2019, 11, 20)


def test_lower_case_x_is_accepted_and_normalised():
    number = make_id_number(seq="001")  # this one ends in X
    assert number.endswith("X")
    assert validate(number.lower(), today=TODAY) == number


def test_full_width_digits_typed_on_a_phone_are_normalised():
    number = make_id_number(seq="001")
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)
    assert validate(full_width, today=TODAY) == number


def test_people_born_before_their_county_code_existed_are_valid():
    # 410783 (长垣市) dates from 2019, yet its residents of every age carry it on new cards.
    number = make_id_number(area="410783", birth="19500101")
    assert validate(number, today=TODAY) == number
    assert birth_date(number) == date(1950, 1, 1)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("41072119800101001", "id_length"),
        ("4107211980010100123", "id_length"),
        ("41072119800101001Y", "id_format"),
        ("²" * 18, "id_format"),
        ("410721198001010010", "id_check_char"),
        (make_id_number(area="999999"), "id_area_code"),
        (make_id_number(birth="19801301"), "id_birth_date"),
        (make_id_number(birth="20991231"), "id_birth_date"),
    ],
)
def test_malformed_id_numbers_say_what_is_wrong(value, code):
    with pytest.raises(InvalidIdNumber) as exc:
        validate(value, today=TODAY)
    assert exc.value.code == code
    assert str(exc.value)  # a sentence for the person who typed it
