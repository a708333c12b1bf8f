"""What a registration pushed to the bureau says it costs: the fee engine's quote with the person's
special groups of the collection year, pension at the lowest grade open to the person."""

from datetime import date
from types import SimpleNamespace

import pytest

from backend.fees import PolicyBook
from backend.ledger.pushes import NotPriceable, push_amounts

BOOK = PolicyBook.load()


def row(scheme="pension", year=2019, birth=date(1980, 6, 15), groups=None, school=None):
    """A registration as backend.government.eligible.candidates() reads it."""
    return SimpleNamespace(
        village_code="410721100201",
        scheme=scheme,
        period_year=year,
        birth_date=birth,
        memberships=groups,
        school_code=school,
    )


@pytest.mark.parametrize(
    "registration, amounts",
    [
        (row(), (20000, 0)),  # the 200-yuan grade
        (row(groups="dibao:2019"), (0, 10000)),  # the 100-yuan grade, paid by the government
        (row(groups="dibao:2018"), (20000, 0)),  # another year's membership does not count
        (row("medical", 2020), (25000, 0)),
        (row("medical", 2020, groups="dibao:2019"), (15000, 10000)),
        (row("medical", 2020, groups="tekun:2019,dibao:2019"), (0, 25000)),  # the most generous
        (row("medical", 2020, birth=date(2005, 3, 1), school="S01"), (25000, 0)),  # one year
    ],
)
def test_a_push_names_what_the_registration_costs(registration, amounts):
    assert push_amounts(BOOK, registration) == amounts


def test_a_registration_the_fee_engine_cannot_price_is_not_pushed():
    with pytest.raises(NotPriceable, match="超过"):
        push_amounts(BOOK, row(birth=date(1950, 1, 1)))  # too old for the pension
    with pytest.raises(NotPriceable, match="尚未发布"):
        push_amounts(BOOK, row(year=2031))
