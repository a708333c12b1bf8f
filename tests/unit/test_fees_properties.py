"""Properties of the fee engine over random people, group sets, grades and years."""

import dataclasses
from datetime import date
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.fees import GROUPS, NotEligible, PolicyBook, pension_options, quote

BOOK = PolicyBook.load()
PENSION = BOOK.scheme_policy("410721100201", "pension", 2019)
MEDICAL = BOOK.scheme_policy("410721100201", "medical", 2020)
MONEY_FIELDS = ("gross_fen", "gov_paid_fen", "payable_fen", "contribution_subsidy_fen")

# No per-example deadline: a loaded CI box must not turn slowness into a failure.
check = settings(deadline=None, max_examples=200)

any_birth = st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31))
# 16 to 59 on 1 January 2019.
pension_age_birth = st.dates(min_value=date(1959, 1, 2), max_value=date(2003, 1, 1))
group_sets = st.frozensets(st.sampled_from((*GROUPS, "veteran")))
pension_grades = st.sampled_from([g.yuan for g in PENSION.grades if not g.special_only])


def assert_money_is_consistent(q):
    for name in MONEY_FIELDS:
        assert type(getattr(q, name)) is int, name
    for line in q.breakdown:
        assert type(line.amount_fen) is int
    assert q.payable_fen >= 0
    assert q.gov_paid_fen >= 0
    assert q.payable_fen + q.gov_paid_fen == q.gross_fen


@check
@given(birth=pension_age_birth, groups=group_sets, grade=pension_grades)
def test_pension_money_is_whole_fen_and_adds_up(birth, groups, grade):
    assert_money_is_consistent(quote(PENSION, birth_date=birth, groups=groups, grade_yuan=grade))


@check
@given(birth=pension_age_birth, groups=group_sets)
def test_every_pension_option_adds_up(birth, groups):
    for q in pension_options(PENSION, birth_date=birth, groups=groups):
        assert_money_is_consistent(q)


@check
@given(birth=any_birth, groups=group_sets, years=st.integers(1, MEDICAL.max_years))
def test_medical_money_is_whole_fen_and_adds_up(birth, groups, years):
    q = quote(MEDICAL, birth_date=birth, groups=groups, is_student=True, years=years)
    assert_money_is_consistent(q)
    one_year = quote(MEDICAL, birth_date=birth, groups=groups, is_student=True)
    assert q.gross_fen == one_year.gross_fen * years
    assert q.gov_paid_fen == one_year.gov_paid_fen * years


@check
@given(birth=any_birth, groups=group_sets)
def test_medical_groups_never_stack(birth, groups):
    together = quote(MEDICAL, birth_date=birth, groups=groups).gov_paid_fen
    singles = [quote(MEDICAL, birth_date=birth, groups=[g]).gov_paid_fen for g in groups]
    assert together == max(singles, default=0)


@check
@given(birth=pension_age_birth, groups=group_sets, grade=pension_grades)
def test_pension_groups_never_stack(birth, groups, grade):
    together = quote(PENSION, birth_date=birth, groups=groups, grade_yuan=grade).gov_paid_fen
    singles = [
        quote(PENSION, birth_date=birth, groups=[g], grade_yuan=grade).gov_paid_fen for g in groups
    ]
    assert together == max(singles, default=0)


@check
@given(birth=pension_age_birth, groups=group_sets)
def test_pension_payable_strictly_rises_with_the_grade(birth, groups):
    options = pension_options(PENSION, birth_date=birth, groups=groups)
    grades = [q.grade_yuan for q in options]
    payables = [q.payable_fen for q in options]
    assert grades == sorted(grades)
    assert all(low < high for low, high in pairwise(payables))


@check
@given(
    birth=pension_age_birth,
    groups=group_sets,
    grade=pension_grades,
    subsidies=st.lists(
        st.integers(0, 10**6), min_size=len(PENSION.grades), max_size=len(PENSION.grades)
    ),
)
def test_contribution_subsidy_never_changes_payable(birth, groups, grade, subsidies):
    reworked = dataclasses.replace(
        PENSION,
        grades=tuple(
            dataclasses.replace(g, subsidy_fen=s)
            for g, s in zip(PENSION.grades, subsidies, strict=True)
        ),
    )
    before = quote(PENSION, birth_date=birth, groups=groups, grade_yuan=grade)
    after = quote(reworked, birth_date=birth, groups=groups, grade_yuan=grade)
    assert after.payable_fen == before.payable_fen
    assert after.gov_paid_fen == before.gov_paid_fen


@check
@given(birth=any_birth, is_student=st.booleans())
def test_pension_eligibility_is_age_16_to_59_on_1_january_and_not_a_student(birth, is_student):
    reached_16 = (birth.year + 16, birth.month, birth.day) <= (2019, 1, 1)
    reached_60 = (birth.year + 60, birth.month, birth.day) <= (2019, 1, 1)
    expected = reached_16 and not reached_60 and not is_student
    try:
        quote(PENSION, birth_date=birth, is_student=is_student)
    except NotEligible:
        eligible = False
    else:
        eligible = True
    assert eligible == expected
