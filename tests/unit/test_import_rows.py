"""Checking one import row on its own: each reason for a rejection, and what a good row becomes."""

from __future__ import annotations

from datetime import date

import pytest

from backend.imports.readers import FileProblem
from backend.imports.rows import GroupRow, RegistrationRow, Rejection, RowParser
from tests.support.files import GROUP_HEADER, REGISTRATION_HEADER, STUDENT_HEADER, registration
from tests.support.people import make_id_number
from tests.support.regions import OTHER_VILLAGE, VILLAGE, VILLAGE_2

VILLAGES = frozenset({VILLAGE, VILLAGE_2, OTHER_VILLAGE})
TODAY = date(2019, 10, 1)


def parser(kind="registrations", header=REGISTRATION_HEADER, scope="410700") -> RowParser:
    return RowParser(kind, header, villages=VILLAGES, scope_code=scope, today=TODAY)


def parse(values, **kwargs):
    return parser(**kwargs).parse(2, values)


def rejected(values, **kwargs) -> Rejection:
    result = parse(values, **kwargs)
    assert isinstance(result, Rejection), result
    assert result.line == 2
    return result


def with_field(column: str, value, row=None, header=REGISTRATION_HEADER) -> list:
    row = list(row or registration(1))
    row[header.index(column)] = value
    return row


def test_a_good_registration_row_becomes_a_typed_row_with_the_birth_date_from_the_id():
    row = parse(registration(7, birth="19850615", phone="13800000000"))
    assert isinstance(row, RegistrationRow)
    assert row.id_number == make_id_number(birth="19850615", seq="007")
    assert row.birth_date == date(1985, 6, 15)
    assert (row.scheme, row.period_year, row.village_code) == ("medical", 2020, VILLAGE)
    assert row.phone == "13800000000"
    assert row.school_code is None


def test_lower_case_x_is_accepted_and_normalised_to_upper_case():
    number = make_id_number(seq="001")
    assert number.endswith("X")
    row = parse(registration(1, id_number=number.lower()))
    assert row.id_number == number


def test_full_width_digits_are_read_as_digits_and_other_digit_like_characters_refused():
    number = make_id_number(seq="001")
    full_width = number[:17].translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}) + "x"
    assert parse(registration(1, id_number=full_width)).id_number == number
    superscripts = "²" * 17 + "1"
    assert rejected(with_field("id_number", superscripts)).code == "id_format"
    assert rejected(with_field("period_year", "２０２０")).code == "bad_year"


def test_surrounding_spaces_are_ignored_and_an_empty_phone_means_not_given():
    row = parse([f" {v} " if isinstance(v, str) else v for v in registration(1)])
    assert isinstance(row, RegistrationRow)
    assert row.name == "测试一"
    assert row.phone is None


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("410721198001010010", "id_check_char"),
        ("41072119800101001Y", "id_format"),
        ("41072119800101001", "id_length"),
        (make_id_number(birth="19801301"), "id_birth_date"),
        (make_id_number(area="999999"), "id_area_code"),
    ],
)
def test_bad_id_numbers_are_rejected_with_the_reason(number, code):
    result = rejected(with_field("id_number", number))
    assert result.code == code
    assert number not in result.reason


def test_an_id_number_excel_turned_into_a_number_is_rejected_with_advice():
    result = rejected(with_field("id_number", 4.10721198001011e17))
    assert result.code == "id_stored_as_number"
    assert "文本" in result.reason


def test_the_rejection_shows_the_masked_id_number_never_the_full_one():
    number = "410721198001010010"  # bad check character
    result = rejected(with_field("id_number", number))
    assert result.id_number_masked == "410721********0010"


@pytest.mark.parametrize(
    "column", ["collection_no", "id_number", "name", "scheme", "period_year", "village_code"]
)
def test_an_empty_required_field_is_rejected_naming_the_column(column):
    result = rejected(with_field(column, ""))
    assert result.code == "empty_field"
    assert column in result.reason


def test_household_no_is_required_too():
    assert rejected(with_field("household_no", "  ")).code == "empty_field"


@pytest.mark.parametrize(
    ("column", "limit"),
    [("collection_no", 40), ("name", 64), ("household_no", 32), ("phone", 20)],
)
def test_overlong_fields_are_rejected_and_the_limit_itself_is_fine(column, limit):
    char = "张" if column == "name" else "1"
    value = char * limit
    assert isinstance(parse(with_field(column, value)), RegistrationRow)
    result = rejected(with_field(column, value + char))
    assert result.code == "too_long"
    assert column in result.reason and str(limit) in result.reason


@pytest.mark.parametrize("phone", ["138 0000 0000", "tel:138", "１３８"])
def test_a_phone_may_hold_only_digits_plus_and_minus(phone):
    assert rejected(with_field("phone", phone)).code == "bad_phone"


def test_a_phone_with_plus_and_minus_is_fine():
    assert parse(with_field("phone", "+86-138-0000-0000")).phone == "+86-138-0000-0000"


@pytest.mark.parametrize(
    "collection_no",
    ["A 1", "流水1", '=HYPERLINK("http://x","y")', "@SUM(1)", "+1", "-1+1", "M\t1", "M1;2"],
)
def test_a_collection_no_with_spaces_chinese_or_a_formula_start_is_rejected(collection_no):
    result = rejected(with_field("collection_no", collection_no))
    assert result.code == "bad_collection_no"
    assert "流水号" in result.reason and "字母或数字开头" in result.reason


def test_a_collection_no_of_letters_digits_and_dashes_is_fine():
    assert parse(with_field("collection_no", "C-410721/2019.0001_a")).collection_no == (
        "C-410721/2019.0001_a"
    )


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://x","y")', "@SUM(1)", "+1", "-1+1", "张三1", "<b>张三</b>", "·张三"]
)
def test_a_name_of_anything_but_letters_and_middle_dots_is_rejected(name):
    result = rejected(with_field("name", name))
    assert result.code == "bad_name"
    assert "姓名" in result.reason and "间隔号" in result.reason
    group_values = with_field("name", name, group_row(), GROUP_HEADER)
    group = rejected(group_values, kind="groups", header=GROUP_HEADER)
    assert group.code == "bad_name"


@pytest.mark.parametrize("name", ["张三", "欧阳娜娜", "阿依古丽·买买提", "Anna Smith", "李〇"])
def test_names_of_chinese_or_latin_letters_and_middle_dots_are_fine(name):
    assert parse(with_field("name", name)).name == name


@pytest.mark.parametrize("scheme", ["养老", "pensions", "health"])
def test_an_unknown_scheme_is_rejected(scheme):
    result = rejected(with_field("scheme", scheme))
    assert result.code == "bad_scheme"
    assert "pension" in result.reason and "medical" in result.reason


def test_a_reason_quoting_a_cell_never_quotes_a_full_id_number():
    number = make_id_number(seq="002")
    result = rejected(with_field("scheme", number))  # columns mixed up in the file
    assert number not in result.reason
    assert number[:6] + "********" + number[-4:] in result.reason


def test_scheme_is_case_insensitive():
    assert parse(with_field("scheme", "Medical")).scheme == "medical"


@pytest.mark.parametrize("year", ["20", "1999", "2101", "2020.5", "二〇二〇"])
def test_a_bad_period_year_is_rejected(year):
    assert rejected(with_field("period_year", year)).code == "bad_year"


def test_village_code_must_be_twelve_digits():
    assert rejected(with_field("village_code", "410721100")).code == "bad_village_code"


def test_a_village_not_in_the_region_table_is_rejected():
    result = rejected(with_field("village_code", "410721100299"))
    assert result.code == "unknown_village"
    assert "410721100299" in result.reason


def test_a_village_outside_the_importers_region_is_rejected():
    row = registration(1, village=OTHER_VILLAGE)
    result = rejected(row, scope="410721")
    assert result.code == "outside_region"
    assert "不在您的管辖区域" in result.reason
    assert isinstance(parse(row, scope="410724"), RegistrationRow)


@pytest.mark.parametrize(
    ("birth", "eligible"),
    [
        ("20030101", True),  # 16 on 1 January 2019
        ("20030102", False),  # still 15 on 1 January 2019
        ("19590102", True),  # still 59 on 1 January 2019
        ("19590101", False),  # 60 on 1 January 2019
    ],
)
def test_pension_needs_age_16_to_59_on_1_january_of_the_period_year(birth, eligible):
    row = registration(1, scheme="pension", period_year=2019, birth=birth)
    result = parse(row)
    if eligible:
        assert isinstance(result, RegistrationRow)
    else:
        assert result.code == "pension_age"
        assert "16至59周岁" in result.reason


def test_the_age_limits_come_from_the_policy_of_the_village_and_year():
    asked = []

    def county_allows_up_to_64(village, year):
        asked.append((village, year))
        return (16, 64)

    row = registration(1, scheme="pension", period_year=2019, birth="19560101")  # 63
    result = RowParser(
        "registrations",
        REGISTRATION_HEADER,
        villages=VILLAGES,
        scope_code="410700",
        today=TODAY,
        pension_ages=county_allows_up_to_64,
    ).parse(2, row)
    assert isinstance(result, RegistrationRow)
    assert asked == [(VILLAGE, 2019)]


def test_medical_has_no_age_limit():
    assert isinstance(parse(registration(1, birth="19300101")), RegistrationRow)


def test_the_first_problem_of_a_row_is_reported():
    row = with_field("scheme", "x", with_field("id_number", "410721198001010010"))
    assert rejected(row).code == "id_check_char"


def test_short_rows_count_missing_cells_as_empty():
    assert rejected(registration(1)[:5]).code == "empty_field"


def test_xlsx_numbers_become_text():
    row = with_field("period_year", 2020.0, with_field("village_code", int(VILLAGE)))
    result = parse(row)
    assert (result.period_year, result.village_code) == (2020, VILLAGE)


# Students


def student(seq=1, school="S4107001", years="3", scheme="medical"):
    return [*registration(seq, scheme=scheme, period_year=2020), school, years]


def test_a_student_row_carries_school_and_remaining_years():
    row = parse(student(), kind="students", header=STUDENT_HEADER)
    assert (row.school_code, row.study_years_left) == ("S4107001", 3)


@pytest.mark.parametrize("years", ["0", "9", "x", "2.5", "²", "003"])
def test_study_years_left_must_be_1_to_8(years):
    result = rejected(student(years=years), kind="students", header=STUDENT_HEADER)
    assert result.code == "bad_study_years"
    assert "1至8" in result.reason


def test_students_register_for_medical_only():
    row = student(scheme="pension")
    row[4] = 2019
    row[1] = make_id_number(birth="20000101", seq="001")
    result = rejected(row, kind="students", header=STUDENT_HEADER)
    assert result.code == "student_not_medical"


def test_a_student_without_a_school_code_is_rejected():
    result = rejected(student(school=""), kind="students", header=STUDENT_HEADER)
    assert result.code == "empty_field"
    assert "school_code" in result.reason


# Special groups


def group_row(group="dibao", year="2019", source="民政", name="测试一"):
    return [make_id_number(seq="001"), name, group, year, source]


def test_a_good_group_row():
    row = parse(group_row(group="Dibao"), kind="groups", header=GROUP_HEADER)
    assert isinstance(row, GroupRow)
    assert (row.group, row.year, row.source) == ("dibao", 2019, "民政")


def test_an_unknown_special_group_is_rejected_listing_the_known_ones():
    result = rejected(group_row(group="veteran"), kind="groups", header=GROUP_HEADER)
    assert result.code == "bad_group"
    assert "tekun" in result.reason and "orphan" in result.reason


def test_a_group_row_needs_a_source_and_a_good_year():
    assert rejected(group_row(source=""), kind="groups", header=GROUP_HEADER).code == "empty_field"
    assert rejected(group_row(year="19"), kind="groups", header=GROUP_HEADER).code == "bad_year"


def test_an_overlong_source_is_rejected():
    result = rejected(group_row(source="办" * 65), kind="groups", header=GROUP_HEADER)
    assert result.code == "too_long"


# Header


def test_columns_may_come_in_any_order_and_any_case():
    header = [c.upper() for c in reversed(REGISTRATION_HEADER)]
    row = parser(header=header).parse(2, list(reversed(registration(3))))
    assert isinstance(row, RegistrationRow)
    assert row.name == "测试三"


def test_a_missing_column_rejects_the_file_naming_the_column():
    header = [c for c in REGISTRATION_HEADER if c != "village_code"]
    with pytest.raises(FileProblem) as problem:
        parser(header=header)
    assert problem.value.code == "missing_columns"
    assert "village_code" in str(problem.value)
    assert problem.value.line == 1


def test_the_phone_column_may_be_left_out():
    header = [c for c in REGISTRATION_HEADER if c != "phone"]
    row = parser(header=header).parse(2, registration(1)[:-1])
    assert isinstance(row, RegistrationRow)
    assert row.phone is None


def test_unknown_extra_columns_are_ignored_with_a_warning():
    p = parser(header=[*REGISTRATION_HEADER, "remark", "备注"])
    assert p.warnings and "remark" in p.warnings[0] and "备注" in p.warnings[0]
    assert isinstance(p.parse(2, [*registration(1), "x", "y"]), RegistrationRow)


def test_a_column_named_twice_rejects_the_file():
    with pytest.raises(FileProblem) as problem:
        parser(header=[*REGISTRATION_HEADER, "name"])
    assert problem.value.code == "duplicate_columns"
    assert "name" in str(problem.value)


def test_the_student_format_needs_the_student_columns():
    with pytest.raises(FileProblem) as problem:
        parser(kind="students", header=REGISTRATION_HEADER)
    assert "school_code" in str(problem.value) and "study_years_left" in str(problem.value)
