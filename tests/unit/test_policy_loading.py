"""Loading policy files: county over city, strict validation of amounts, missing policies."""

from datetime import date

import pytest

from backend.fees import PolicyBook, PolicyNotFound, quote

CITY = """
[calendar]
window_start = 2019-09-01
window_end = 2019-12-31
window_end_tag = "assumed"

[labels.groups]
tekun = "特困人员"
dibao = "低保对象"
poverty = "建档立卡贫困人口"
disabled_severe = "重度残疾人"
child_in_distress = "困境儿童"
orphan = "孤儿"

[pension]
period_year = 2019
deadline = 2019-10-31
min_age = 16
max_age = 59
students_eligible = false
grades_yuan = [200, 300]
special_grades_yuan = [100]

[pension.subsidy_by_grade_yuan]
100 = 30
200 = 30
300 = 30

[pension.gov_paid_yuan]
dibao = 100

[medical]
period_year = 2020
deadline = 2019-11-30
individual_yuan = 250
individual_yuan_tag = "confirmed"
students_multi_year = false
max_years = 1

[medical.gov_paid_yuan]
tekun = "full"
dibao = 100
"""

COUNTY = """
[medical]
individual_yuan = 280

[medical.gov_paid_yuan]
dibao = 120

[pension]
grades_yuan = [200, 300, 500]

[pension.subsidy_by_grade_yuan]
500 = 60
"""

ADULT = date(1980, 6, 15)


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def set_line(text, old, new):
    assert old in text
    return text.replace(old, new, 1)


def test_packaged_policies_load_and_cover_xinxiang_2019():
    book = PolicyBook.load()
    assert book.scheme_policy("410700", "pension", 2019).sources == ("2019/410700.toml",)
    assert book.scheme_policy("410700", "medical", 2020).share_fen == 25000


def test_county_file_merges_over_the_city_file(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    write(tmp_path, "2019/410721.toml", COUNTY)
    book = PolicyBook.load(tmp_path)

    medical = book.scheme_policy("410721100201", "medical", 2020)
    assert medical.region == "410721"
    assert medical.sources == ("2019/410700.toml", "2019/410721.toml")
    assert medical.share_fen == 28000
    assert medical.deadline == date(2019, 11, 30)  # kept from the city file
    aid = {a.group: a.gov_paid_fen for a in medical.aid}
    assert aid == {"tekun": 28000, "dibao": 12000}  # "full" follows the county's share
    assert quote(medical, birth_date=ADULT, groups=["dibao"]).payable_fen == 16000

    pension = book.scheme_policy("410721100201", "pension", 2019)
    assert [g.yuan for g in pension.grades] == [100, 200, 300, 500]  # the array replaced
    assert pension.grades[-1].subsidy_fen == 6000
    assert pension.min_age == 16


def test_other_counties_keep_the_city_policy(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    write(tmp_path, "2019/410721.toml", COUNTY)
    book = PolicyBook.load(tmp_path)
    medical = book.scheme_policy("410702001001", "medical", 2020)
    assert (medical.region, medical.share_fen) == ("410700", 25000)
    assert book.scheme_policy("410700", "medical", 2020) == medical


def test_a_collection_year_lists_its_schemes_county_first(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    write(tmp_path, "2019/410721.toml", COUNTY)
    write(tmp_path, "2020/410700.toml", CITY.replace("2020", "2021").replace("2019", "2020"))
    book = PolicyBook.load(tmp_path)
    assert book.collection_years("410721100201") == (2019, 2020)
    window, policies = book.collection("410721100201", 2019)
    assert window == (date(2019, 9, 1), date(2019, 12, 31))
    assert [(p.scheme, p.period_year, p.region) for p in policies] == [
        ("pension", 2019, "410721"),
        ("medical", 2020, "410721"),
    ]
    assert policies[1].share_fen == 28000  # the county's own share
    _, city = book.collection("410724100201", 2019)
    assert [p.region for p in city] == ["410700", "410700"]
    with pytest.raises(PolicyNotFound):
        book.collection("410721100201", 2018)


def test_county_override_may_change_the_collection_window(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    write(tmp_path, "2019/410721.toml", "[calendar]\nwindow_start = 2019-10-01\n")
    book = PolicyBook.load(tmp_path)
    assert book.collection_window("410721", 2019) == (date(2019, 10, 1), date(2019, 12, 31))
    assert book.collection_window("410702", 2019) == (date(2019, 9, 1), date(2019, 12, 31))


@pytest.mark.parametrize("bad", ["250.5", "250.0", '"250"', "true", "-250"])
def test_a_non_integer_amount_in_the_city_file_is_rejected_naming_file_and_key(tmp_path, bad):
    write(
        tmp_path,
        "2019/410700.toml",
        set_line(CITY, "individual_yuan = 250", f"individual_yuan = {bad}"),
    )
    with pytest.raises(ValueError, match=r"2019/410700\.toml: medical\.individual_yuan"):
        PolicyBook.load(tmp_path)


def test_a_float_amount_in_a_county_file_names_the_county_file(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    write(tmp_path, "2019/410721.toml", "[pension.gov_paid_yuan]\ndibao = 99.5\n")
    with pytest.raises(ValueError, match=r"2019/410721\.toml: pension\.gov_paid_yuan\.dibao"):
        PolicyBook.load(tmp_path)


def test_a_float_grade_is_rejected(tmp_path):
    write(tmp_path, "2019/410700.toml", set_line(CITY, "[200, 300]", "[200, 300.0]"))
    with pytest.raises(ValueError, match=r"410700\.toml: pension\.grades_yuan"):
        PolicyBook.load(tmp_path)


def test_a_float_subsidy_is_rejected(tmp_path):
    write(tmp_path, "2019/410700.toml", set_line(CITY, "300 = 30", "300 = 30.5"))
    with pytest.raises(ValueError, match=r"410700\.toml: pension\.subsidy_by_grade_yuan\.300"):
        PolicyBook.load(tmp_path)


def test_pension_needs_at_least_one_grade(tmp_path):
    write(tmp_path, "2019/410700.toml", set_line(CITY, "[200, 300]", "[]"))
    with pytest.raises(
        ValueError, match=r"410700\.toml: pension\.grades_yuan: must be a non-empty"
    ):
        PolicyBook.load(tmp_path)


def test_a_grade_without_a_subsidy_is_rejected(tmp_path):
    write(tmp_path, "2019/410700.toml", set_line(CITY, "300 = 30\n", ""))
    with pytest.raises(ValueError, match=r"pension\.subsidy_by_grade_yuan\.300: missing"):
        PolicyBook.load(tmp_path)


def test_full_share_is_only_for_medical(tmp_path):
    write(tmp_path, "2019/410700.toml", set_line(CITY, "dibao = 100", 'dibao = "full"'))
    with pytest.raises(ValueError, match=r"pension\.gov_paid_yuan\.dibao"):
        PolicyBook.load(tmp_path)


def test_a_misspelt_key_is_rejected(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    write(tmp_path, "2019/410721.toml", "[medical]\nindividual_yaun = 280\n")
    with pytest.raises(ValueError, match=r"410721\.toml: medical\.individual_yaun: unknown key"):
        PolicyBook.load(tmp_path)


def test_an_unknown_group_is_rejected(tmp_path):
    write(tmp_path, "2019/410700.toml", set_line(CITY, "dibao = 100\n", "veteran = 100\n"))
    with pytest.raises(ValueError, match=r"pension\.gov_paid_yuan\.veteran: unknown group"):
        PolicyBook.load(tmp_path)


def test_a_tag_must_say_how_sure_the_value_is(tmp_path):
    write(tmp_path, "2019/410700.toml", set_line(CITY, '"confirmed"', '"probably"'))
    with pytest.raises(ValueError, match=r"medical\.individual_yuan_tag"):
        PolicyBook.load(tmp_path)


def test_a_deadline_outside_the_window_is_rejected(tmp_path):
    write(tmp_path, "2019/410700.toml", set_line(CITY, "2019-11-30", "2020-01-31"))
    with pytest.raises(ValueError, match=r"410700\.toml: medical\.deadline"):
        PolicyBook.load(tmp_path)


def test_a_county_grade_without_a_subsidy_names_both_merged_files(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    write(tmp_path, "2019/410721.toml", "[pension]\ngrades_yuan = [200, 300, 700]\n")
    with pytest.raises(
        ValueError,
        match=r"410721\.toml over 2019/410700\.toml: pension\.subsidy_by_grade_yuan\.700: missing",
    ):
        PolicyBook.load(tmp_path)


def test_a_county_file_without_a_city_file_must_be_complete(tmp_path):
    write(tmp_path, "2019/410721.toml", COUNTY)
    with pytest.raises(ValueError, match=r"2019/410721\.toml: calendar: missing"):
        PolicyBook.load(tmp_path)


def test_invalid_toml_names_the_file(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY + "\nthis is not toml\n")
    with pytest.raises(ValueError, match=r"2019/410700\.toml: not valid TOML"):
        PolicyBook.load(tmp_path)


def test_a_file_must_be_named_by_year_and_region(tmp_path):
    write(tmp_path, "2019/xinxiang.toml", CITY)
    with pytest.raises(ValueError, match=r"2019/xinxiang\.toml"):
        PolicyBook.load(tmp_path)


def test_two_collection_years_cannot_price_the_same_period(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    # Collected in 2020 but again for medical 2020 (it should be 2021).
    later = CITY.replace("2019-", "2020-").replace("period_year = 2019", "period_year = 2020")
    write(tmp_path, "2020/410700.toml", later)
    with pytest.raises(ValueError, match=r"medical\.period_year: 2020 is also priced by"):
        PolicyBook.load(tmp_path)


def test_missing_policy_raises_policy_not_found(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    book = PolicyBook.load(tmp_path)
    with pytest.raises(PolicyNotFound):
        book.scheme_policy("410121000000", "medical", 2020)
    with pytest.raises(PolicyNotFound):
        book.scheme_policy("410721000000", "medical", 2021)
    with pytest.raises(PolicyNotFound):
        book.collection_window("410721000000", 2020)
    assert issubclass(PolicyNotFound, LookupError)


def test_an_empty_directory_has_no_policies(tmp_path):
    with pytest.raises(PolicyNotFound):
        PolicyBook.load(tmp_path).scheme_policy("410700", "pension", 2019)


@pytest.mark.parametrize("code", ["41", "4107a0", "", 410700])
def test_a_malformed_region_code_is_a_value_error(code):
    with pytest.raises(ValueError):
        PolicyBook.load().scheme_policy(code, "pension", 2019)


FUNDING = """
[medical.funding.gov_paid_percent]
province = 40
city = 30
county = 30
"""


def test_the_packaged_policy_says_how_the_levels_share_what_the_government_pays():
    book = PolicyBook.load()
    pension = book.scheme_policy("410721", "pension", 2019).funding
    medical = book.scheme_policy("410721", "medical", 2020).funding
    for split in (pension.gov_paid, pension.contribution_subsidy, medical.gov_paid):
        assert [level for level, _ in split] == ["province", "city", "county"]
        assert sum(percent for _, percent in split) == 100
    assert medical.contribution_subsidy == ()  # medical has no contribution subsidy


def test_a_county_may_set_its_own_funding_shares(tmp_path):
    write(tmp_path, "2019/410700.toml", CITY)
    write(tmp_path, "2019/410721.toml", FUNDING)
    book = PolicyBook.load(tmp_path)
    assert book.scheme_policy("410721", "medical", 2020).funding.gov_paid == (
        ("province", 40),
        ("city", 30),
        ("county", 30),
    )
    assert book.scheme_policy("410724", "medical", 2020).funding is None  # the city says nothing


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("county = 30", "county = 31", "must add up to 100, got 101"),
        ("county = 30", "county = 30.0", "must be an integer"),
        ("county = 30", "town = 30", "unknown key"),
        ("city = 30", "city = -10", "must be at least 0"),
    ],
)
def test_funding_shares_that_do_not_add_up_are_rejected_naming_file_and_key(
    tmp_path, old, new, problem
):
    write(tmp_path, "2019/410700.toml", CITY)
    write(tmp_path, "2019/410721.toml", set_line(FUNDING, old, new))
    with pytest.raises(ValueError) as error:
        PolicyBook.load(tmp_path)
    assert "2019/410721.toml" in str(error.value)
    assert "medical.funding.gov_paid_percent" in str(error.value)
    assert problem in str(error.value)
