"""A student's years in a school batch (pure): which years, what each costs, the later years'
serials, and the refusals a school reads."""

from datetime import date

import pytest

from backend.errors import Conflict, Refused
from backend.fees import PolicyBook
from backend.orders.pricing import RegistrationToPrice
from backend.schools.years import StudentToPrice, later_collection_no, price_student

BOOK = PolicyBook.load()
IN_SEASON, AFTER_SEASON = date(2019, 11, 20), date(2020, 1, 2)


def student(years_left=3, *, groups=(), later=None, status="unpaid") -> StudentToPrice:
    return StudentToPrice(
        registration=RegistrationToPrice(
            id=1,
            ref="R0001",
            scheme="medical",
            period_year=2020,
            status=status,
            village_code="410721100201",
            is_student=True,
            enrollee_id=7,
            holder_name="李同学",
            birth_date=date(2002, 9, 1),
            groups_by_year={2019: frozenset(groups)} if groups else {},
        ),
        collection_no="T000000001",
        study_years_left=years_left,
        later=later or {},
    )


def test_every_year_costs_the_current_share_with_the_same_help():
    priced = price_student(BOOK, student(), 3, today=IN_SEASON)
    assert priced.years == (2020, 2021, 2022)
    assert (priced.first.amount_fen, priced.total_fen) == (25000, 75000)
    helped = price_student(BOOK, student(groups=("dibao",)), 2, today=IN_SEASON)
    assert (helped.first.amount_fen, helped.first.gov_paid_fen) == (15000, 10000)
    assert helped.total_fen == 30000


def test_more_years_than_left_or_than_the_policy_allows_are_refused_plainly():
    with pytest.raises(Refused) as beyond:
        price_student(BOOK, student(years_left=2), 3, today=IN_SEASON)
    assert beyond.value.reason == "beyond_study_years"
    assert "剩余学年为2年，最多缴纳到2021年度" in beyond.value.message
    assert "李*" in beyond.value.message and "李同学" not in beyond.value.message
    with pytest.raises(Refused) as over:
        price_student(BOOK, student(years_left=8), 6, today=IN_SEASON)
    assert over.value.reason == "too_many_years" and "最多缴纳5个年度" in over.value.message


def test_a_year_paid_or_held_elsewhere_or_a_closed_window_stops_the_student():
    with pytest.raises(Conflict) as paid:
        price_student(BOOK, student(later={2021: "paid"}), 3, today=IN_SEASON)
    assert paid.value.reason == "already_paid" and "2021年度医疗保险" in paid.value.message
    with pytest.raises(Conflict) as held:
        price_student(BOOK, student(status="pending"), 1, today=IN_SEASON)
    assert held.value.reason == "in_another_order"
    with pytest.raises(Refused) as closed:
        price_student(BOOK, student(), 2, today=AFTER_SEASON)
    assert closed.value.reason == "outside_window"
    # A later year registered but unpaid (a batch that expired) is simply paid again.
    assert price_student(BOOK, student(later={2021: "unpaid"}), 2, today=IN_SEASON).years == (
        2020,
        2021,
    )


def test_a_later_years_serial_is_derived_from_the_students_and_fits_the_column():
    assert later_collection_no("T000000001", 2021) == "T000000001-Y2021"
    long_a, long_b = "A" * 38 + "01", "A" * 38 + "02"
    serial_a, serial_b = later_collection_no(long_a, 2022), later_collection_no(long_b, 2022)
    assert len(serial_a) <= 40 and serial_a.endswith("-Y2022") and serial_a != serial_b
    assert later_collection_no(long_a, 2022) == serial_a  # the same every time
