"""Examples for every default of the 2019 Xinxiang policy (design section 4), priced end to end."""

from datetime import date

import pytest

from backend.fees import (
    BreakdownLine,
    InvalidGrade,
    NotEligible,
    PolicyBook,
    PolicyNotFound,
    pension_options,
    quote,
)

BOOK = PolicyBook.load()
VILLAGE = "410721100201"  # a village in 新乡县; no county file, so the city policy applies
PENSION = BOOK.scheme_policy(VILLAGE, "pension", 2019)
MEDICAL = BOOK.scheme_policy(VILLAGE, "medical", 2020)
ADULT = date(1980, 6, 15)
PENSION_GROUPS = ("tekun", "dibao", "poverty", "disabled_severe")
FULL_MEDICAL_GROUPS = ("tekun", "orphan", "child_in_distress", "poverty")

SUBSIDY_BY_GRADE = {
    200: 30,
    300: 30,
    400: 30,
    500: 60,
    600: 60,
    700: 60,
    800: 60,
    900: 60,
    1000: 80,
    1500: 100,
    2000: 120,
    2500: 140,
    3000: 160,
    4000: 180,
    5000: 200,
}


# Pension grades and contribution subsidy


@pytest.mark.parametrize(("grade", "subsidy"), SUBSIDY_BY_GRADE.items())
def test_each_pension_grade_earns_its_contribution_subsidy(grade, subsidy):
    q = quote(PENSION, birth_date=ADULT, grade_yuan=grade)
    assert q.grade_yuan == grade
    assert q.gross_fen == grade * 100
    assert q.payable_fen == grade * 100  # the subsidy is credited on top, never deducted
    assert q.gov_paid_fen == 0
    assert q.contribution_subsidy_fen == subsidy * 100
    assert q.applied_group is None


def test_pension_2019_offers_fifteen_grades_to_a_regular_person():
    options = pension_options(PENSION, birth_date=ADULT)
    assert [q.grade_yuan for q in options] == list(SUBSIDY_BY_GRADE)


def test_regular_person_defaults_to_the_200_grade():
    q = quote(PENSION, birth_date=ADULT)
    assert (q.grade_yuan, q.payable_fen, q.contribution_subsidy_fen) == (200, 20000, 3000)


@pytest.mark.parametrize("group", PENSION_GROUPS)
def test_special_group_at_the_100_grade_pays_nothing_with_subsidy_30(group):
    q = quote(PENSION, birth_date=ADULT, groups=[group], grade_yuan=100)
    assert q.gross_fen == 10000
    assert q.gov_paid_fen == 10000
    assert q.payable_fen == 0
    assert q.contribution_subsidy_fen == 3000
    assert q.applied_group == group


@pytest.mark.parametrize("group", PENSION_GROUPS)
def test_special_group_defaults_to_the_100_grade(group):
    q = quote(PENSION, birth_date=ADULT, groups=[group])
    assert (q.grade_yuan, q.payable_fen) == (100, 0)


def test_special_group_sees_the_100_grade_first_among_sixteen():
    options = pension_options(PENSION, birth_date=ADULT, groups=["tekun"])
    assert [q.grade_yuan for q in options] == [100, *SUBSIDY_BY_GRADE]
    assert [q.payable_fen for q in options] == [0] + [(g - 100) * 100 for g in SUBSIDY_BY_GRADE]


def test_regular_person_cannot_choose_the_100_grade():
    with pytest.raises(InvalidGrade, match="100元档次仅限"):
        quote(PENSION, birth_date=ADULT, grade_yuan=100)


def test_dibao_at_grade_500_pays_400_with_subsidy_60():
    q = quote(PENSION, birth_date=ADULT, groups=["dibao"], grade_yuan=500)
    assert q.gross_fen == 50000
    assert q.gov_paid_fen == 10000
    assert q.payable_fen == 40000
    assert q.contribution_subsidy_fen == 6000


def test_dibao_pension_breakdown_shows_the_subsidy_separately():
    q = quote(PENSION, birth_date=ADULT, groups=["dibao"], grade_yuan=500)
    assert q.breakdown == (
        BreakdownLine("gross", "城乡居民基本养老保险 2019年度 缴费档次 500元", 50000),
        BreakdownLine("gov_paid", "低保对象 政府代缴", 10000),
        BreakdownLine("payable", "个人应缴", 40000),
        BreakdownLine("contribution_subsidy", "政府缴费补贴（计入个人账户，不减少应缴）", 6000),
    )


@pytest.mark.parametrize("grade", [0, 150, 250, 6000, -200])
def test_a_grade_not_on_the_list_is_rejected(grade):
    with pytest.raises(InvalidGrade):
        quote(PENSION, birth_date=ADULT, grade_yuan=grade)


@pytest.mark.parametrize("grade", [500.0, "500", True])
def test_a_grade_that_is_not_an_integer_is_rejected(grade):
    with pytest.raises(InvalidGrade):
        quote(PENSION, birth_date=ADULT, grade_yuan=grade)


def test_orphan_is_no_special_group_for_pension():
    q = quote(PENSION, birth_date=ADULT, groups=["orphan", "child_in_distress"])
    assert (q.grade_yuan, q.gov_paid_fen, q.applied_group) == (200, 0, None)
    with pytest.raises(InvalidGrade):
        quote(PENSION, birth_date=ADULT, groups=["orphan"], grade_yuan=100)


def test_pension_is_paid_one_year_at_a_time():
    with pytest.raises(ValueError, match="按年缴费"):
        quote(PENSION, birth_date=ADULT, grade_yuan=500, years=2)


# Pension eligibility: age 16 to 59 on 1 January 2019, not a student


def test_aged_15_on_1_january_2019_is_not_eligible_for_pension():
    with pytest.raises(NotEligible) as caught:
        quote(PENSION, birth_date=date(2003, 1, 2))
    assert "未满16周岁" in caught.value.reason
    assert str(caught.value) == caught.value.reason


def test_aged_16_on_1_january_2019_is_eligible_for_pension():
    assert quote(PENSION, birth_date=date(2003, 1, 1)).payable_fen == 20000


def test_aged_59_on_1_january_2019_is_eligible_for_pension():
    assert quote(PENSION, birth_date=date(1959, 1, 2)).payable_fen == 20000


def test_aged_60_on_1_january_2019_is_not_eligible_for_pension():
    with pytest.raises(NotEligible) as caught:
        quote(PENSION, birth_date=date(1959, 1, 1))
    assert "已超过59周岁" in caught.value.reason


def test_student_is_not_eligible_for_pension():
    with pytest.raises(NotEligible, match="在校学生"):
        quote(PENSION, birth_date=date(2000, 9, 1), is_student=True)
    with pytest.raises(NotEligible):
        pension_options(PENSION, birth_date=date(2000, 9, 1), is_student=True)


def test_ineligible_person_gets_no_pension_options():
    with pytest.raises(NotEligible):
        pension_options(PENSION, birth_date=date(1940, 1, 1), groups=["tekun"])


# Medical, coverage year 2020


def test_medical_2020_individual_share_is_250():
    q = quote(MEDICAL, birth_date=ADULT)
    assert (q.gross_fen, q.gov_paid_fen, q.payable_fen) == (25000, 0, 25000)
    assert (q.grade_yuan, q.years, q.contribution_subsidy_fen) == (None, 1, 0)


def test_medical_has_no_age_limit():
    assert quote(MEDICAL, birth_date=date(2019, 10, 1)).payable_fen == 25000
    assert quote(MEDICAL, birth_date=date(1920, 1, 1)).payable_fen == 25000


@pytest.mark.parametrize("group", FULL_MEDICAL_GROUPS)
def test_fully_funded_groups_pay_nothing_for_medical_2020(group):
    q = quote(MEDICAL, birth_date=ADULT, groups=[group])
    assert (q.gov_paid_fen, q.payable_fen, q.applied_group) == (25000, 0, group)


def test_dibao_pays_150_for_medical_2020():
    q = quote(MEDICAL, birth_date=ADULT, groups=["dibao"])
    assert q.breakdown == (
        BreakdownLine("gross", "城乡居民基本医疗保险 2020年度 个人缴费标准", 25000),
        BreakdownLine("gov_paid", "低保对象 政府资助", 10000),
        BreakdownLine("payable", "个人应缴", 15000),
    )
    assert q.payable_fen == 15000


def test_disabled_severe_pays_150_for_medical_2020():
    q = quote(MEDICAL, birth_date=ADULT, groups=["disabled_severe"])
    assert (q.gov_paid_fen, q.payable_fen) == (10000, 15000)


def test_student_pays_three_years_of_medical_at_once_750():
    q = quote(MEDICAL, birth_date=date(2001, 3, 3), is_student=True, years=3)
    assert (q.years, q.gross_fen, q.payable_fen) == (3, 75000, 75000)
    assert (
        q.breakdown[0].label == "城乡居民基本医疗保险 2020—2022年度 个人缴费标准（3年，每年250元）"
    )


def test_orphan_student_paying_three_years_is_funded_each_year():
    q = quote(MEDICAL, birth_date=date(2001, 3, 3), groups=["orphan"], is_student=True, years=3)
    assert (q.gross_fen, q.gov_paid_fen, q.payable_fen) == (75000, 75000, 0)


def test_only_students_pay_several_medical_years():
    with pytest.raises(ValueError, match="仅在校学生"):
        quote(MEDICAL, birth_date=ADULT, years=2)


def test_students_pay_at_most_five_medical_years():
    assert quote(MEDICAL, birth_date=ADULT, is_student=True, years=5).gross_fen == 125000
    with pytest.raises(ValueError, match="最多缴纳5个年度"):
        quote(MEDICAL, birth_date=ADULT, is_student=True, years=6)


@pytest.mark.parametrize("years", [0, -1, 2.0, True])
def test_years_must_be_a_positive_integer(years):
    with pytest.raises(ValueError):
        quote(MEDICAL, birth_date=ADULT, is_student=True, years=years)


def test_medical_takes_no_grade():
    with pytest.raises(InvalidGrade):
        quote(MEDICAL, birth_date=ADULT, grade_yuan=200)
    with pytest.raises(ValueError):
        pension_options(MEDICAL, birth_date=ADULT)


# Several groups: only the most generous applies


def test_dibao_and_poverty_pay_nothing_for_medical_never_negative():
    q = quote(MEDICAL, birth_date=ADULT, groups=["dibao", "poverty"])
    assert (q.gov_paid_fen, q.payable_fen, q.applied_group) == (25000, 0, "poverty")
    assert [line.kind for line in q.breakdown] == ["gross", "gov_paid", "payable"]


def test_dibao_and_disabled_severe_do_not_add_up_for_medical():
    q = quote(MEDICAL, birth_date=ADULT, groups=["dibao", "disabled_severe"])
    assert (q.gov_paid_fen, q.payable_fen) == (10000, 15000)


def test_all_pension_groups_together_pay_one_100_not_400():
    q = quote(PENSION, birth_date=ADULT, groups=PENSION_GROUPS, grade_yuan=1000)
    assert (q.gov_paid_fen, q.payable_fen) == (10000, 90000)


def test_unknown_group_names_are_ignored():
    q = quote(MEDICAL, birth_date=ADULT, groups=["veteran", ""])
    assert (q.payable_fen, q.applied_group) == (25000, None)


def test_groups_given_as_one_string_are_refused():
    with pytest.raises(TypeError):
        quote(MEDICAL, birth_date=ADULT, groups="dibao")


# Calendar and lookup


def test_pension_2019_is_collected_in_2019_by_31_october():
    assert (PENSION.collection_year, PENSION.period_year) == (2019, 2019)
    assert PENSION.deadline == date(2019, 10, 31)


def test_medical_2020_is_collected_in_2019_by_30_november():
    assert (MEDICAL.collection_year, MEDICAL.period_year) == (2019, 2020)
    assert MEDICAL.deadline == date(2019, 11, 30)


def test_collection_window_2019_runs_1_september_to_31_december():
    window = (date(2019, 9, 1), date(2019, 12, 31))
    assert BOOK.collection_window(VILLAGE, 2019) == window
    assert PENSION.window == MEDICAL.window == window


def test_schemes_carry_their_full_chinese_names():
    assert PENSION.label == "城乡居民基本养老保险"
    assert MEDICAL.label == "城乡居民基本医疗保险"


@pytest.mark.parametrize("code", ["4107", "410700", "410721", "410721000000", VILLAGE])
def test_any_xinxiang_region_code_finds_the_city_policy(code):
    assert BOOK.scheme_policy(code, "medical", 2020) == MEDICAL


@pytest.mark.parametrize(
    ("code", "scheme", "period_year"),
    [
        ("410121000000", "medical", 2020),  # another city
        (VILLAGE, "medical", 2019),  # collected in 2018, not on file
        (VILLAGE, "pension", 2020),
        (VILLAGE, "unemployment", 2019),
    ],
)
def test_uncovered_lookups_raise_policy_not_found(code, scheme, period_year):
    with pytest.raises(PolicyNotFound):
        BOOK.scheme_policy(code, scheme, period_year)


def test_uncovered_collection_year_raises_policy_not_found():
    with pytest.raises(PolicyNotFound):
        BOOK.collection_window(VILLAGE, 2020)
