"""The demo population generator: valid people, plausible households, the registration rules."""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from datetime import date

import pytest

from backend.seed import population, regions
from backend.seed.population import (
    MEDICAL_YEAR,
    PENSION_YEAR,
    REFERENCE_DAY,
    SCHOOL_CODES,
    age_on,
    people,
    showcase,
)
from backend.values import id_numbers

SIZE = 3000


@pytest.fixture(scope="module")
def crowd():
    return list(people(2019, SIZE))


@pytest.fixture(scope="module")
def households():
    return list(itertools.islice(population.households(2019), 1000))


def test_the_city_has_xinxiangs_twelve_counties_with_their_real_codes():
    counties = {r.code: r.name for r in regions.region_tree() if r.level == "county"}
    assert counties == {
        "410702000000": "红旗区",
        "410703000000": "卫滨区",
        "410704000000": "凤泉区",
        "410711000000": "牧野区",
        "410721000000": "新乡县",
        "410724000000": "获嘉县",
        "410725000000": "原阳县",
        "410726000000": "延津县",
        "410727000000": "封丘县",
        "410781000000": "卫辉市",
        "410782000000": "辉县市",
        "410783000000": "长垣市",
    }
    city = [r for r in regions.region_tree() if r.level == "city"]
    assert city == [regions.RegionRow("410700000000", "新乡市", "city", None)]


def test_townships_and_villages_have_official_shaped_codes_and_unique_names_per_parent():
    tree = regions.region_tree()
    by_code = {r.code: r for r in tree}
    assert len(by_code) == len(tree)
    children = defaultdict(list)
    for row in tree:
        if row.parent_code:
            assert row.parent_code in by_code
            children[row.parent_code].append(row)
    for row in tree:
        if row.level == "township":
            assert re.fullmatch(r"4107\d{2}1\d{2}000", row.code)
            assert row.name.endswith(("镇", "乡", "街道"))
            assert 5 <= len(children[row.code]) <= 16
        if row.level == "village":
            assert row.code[:9] == row.parent_code[:9]
            assert row.code[9:] != "000"
            assert row.name.endswith(("村", "社区"))
    for kids in children.values():
        names = [k.name for k in kids]
        assert len(set(names)) == len(names)
    for county in (r for r in tree if r.level == "county"):
        assert 4 <= len(children[county.code]) <= 8  # a few townships per county


def test_the_first_townships_code_ends_in_100():
    townships = [r.code for r in regions.region_tree() if r.parent_code == "410721000000"]
    assert townships[0] == "410721100000"
    assert townships == [f"410721{100 + n}000" for n in range(len(townships))]


def test_every_generated_id_number_is_valid_and_unique(crowd):
    numbers = [p.id_number for p in crowd]
    assert len(set(numbers)) == len(numbers)
    for person in crowd:
        assert id_numbers.validate(person.id_number, today=date(2019, 11, 20)) == person.id_number
        assert id_numbers.birth_date(person.id_number) == person.birth_date
        assert person.id_number[:6] == person.village_code[:6]  # issued in the home county
        assert int(person.id_number[16]) % 2 == (person.sex == "M")  # odd sequence: male
        assert age_on(REFERENCE_DAY, person.birth_date) == person.age


def test_ages_spread_from_newborns_to_ninety(crowd):
    ages = [p.age for p in crowd]
    assert min(ages) == 0
    assert max(ages) >= 85
    assert 25 <= sum(ages) / len(ages) <= 50


def test_household_members_share_a_number_and_a_village(households):
    for household in households:
        assert 1 <= len(household.members) <= 6
        assert household.household_no.startswith(household.village_code)
        for member in household.members:
            assert member.household_no == household.household_no
            assert member.village_code == household.village_code
        names = [m.name for m in household.members]
        assert len(set(names)) == len(names)
    numbers = [h.household_no for h in households]
    assert len(set(numbers)) == len(numbers)
    sizes = Counter(len(h.members) for h in households)
    assert set(sizes) == {1, 2, 3, 4, 5, 6}


def test_generations_in_a_household_have_plausible_ages(households):
    for household in households:
        members = household.members
        head = members[0]
        assert head.relation == "head"
        for member in members:
            if member.relation == "child":
                assert head.age - member.age >= 18
            if member.relation == "parent":
                assert member.age - head.age >= 18
            if member.relation == "grandchild":
                assert head.age - member.age >= 36


def test_children_carry_the_heads_surname(households):
    pairs = [
        (h.members[0].name, m.name)
        for h in households
        for m in h.members
        if m.relation in ("child", "grandchild")
    ]
    assert len(pairs) > 500
    assert all(head[0] == child[0] for head, child in pairs)


def test_everyone_has_a_medical_registration_for_2020(crowd):
    for person in crowd:
        medical = [r for r in person.registrations if r.scheme == "medical"]
        assert len(medical) == 1
        assert medical[0].period_year == MEDICAL_YEAR


def test_pension_registration_exactly_for_non_students_aged_16_to_59(crowd):
    for person in crowd:
        pension = [r for r in person.registrations if r.scheme == "pension"]
        expected = 16 <= age_on(REFERENCE_DAY, person.birth_date) <= 59 and not person.is_student
        assert len(pension) == (1 if expected else 0), person
        if pension:
            assert pension[0].period_year == PENSION_YEAR


def test_students_are_18_to_22_with_a_school_and_no_pension(crowd):
    students = [p for p in crowd if p.is_student]
    assert len(students) >= 10
    for student in students:
        assert 18 <= student.age <= 22
        (medical,) = student.registrations
        assert medical.scheme == "medical"
        assert medical.school_code in SCHOOL_CODES
        assert 1 <= medical.study_years_left <= 4
    nobody_else = [p for p in crowd if not p.is_student]
    assert all(r.school_code is None for p in nobody_else for r in p.registrations)


def test_collection_numbers_and_refs_are_unique_and_well_formed(crowd):
    regs = [r for p in crowd for r in p.registrations]
    assert len({r.collection_no for r in regs}) == len(regs)
    assert len({r.ref for r in regs}) == len(regs)
    for person in crowd:
        for reg in person.registrations:
            assert re.fullmatch(r"R[0-9a-f]{16}", reg.ref)
            assert reg.collection_no.startswith(person.id_number[:6])
            assert reg.ref == population.registration_ref(2019, person.index, reg.scheme)


def test_a_few_percent_are_in_special_groups_from_the_right_offices(crowd):
    members = [p for p in crowd if p.groups]
    assert 0.02 <= len(members) / len(crowd) <= 0.12
    sources = {"dibao": "民政", "tekun": "民政", "orphan": "民政", "child_in_distress": "民政"}
    sources |= {"poverty": "扶贫办", "disabled_severe": "残联"}
    seen = set()
    for person in members:
        for group, source in person.groups:
            assert sources[group] == source
            seen.add(group)
            if group in ("orphan", "child_in_distress"):
                assert person.age < 18
            if group == "tekun":
                assert person.age >= 60
    assert {"dibao", "poverty", "disabled_severe", "tekun"} <= seen


def test_the_same_seed_gives_the_same_people_and_a_bigger_size_only_adds(crowd):
    assert list(people(2019, SIZE)) == crowd
    assert list(people(2019, 500)) == crowd[:500]
    other = list(people(7, 500))
    assert [p.id_number for p in other] != [p.id_number for p in crowd[:500]]
    assert not {r.ref for p in other for r in p.registrations} & {
        r.ref for p in crowd for r in p.registrations
    }


def test_the_showcase_picks_one_person_of_each_kind():
    picks = showcase(2019, 2000)
    assert picks.ordinary.groups == () and not picks.ordinary.is_student
    assert {r.scheme for r in picks.ordinary.registrations} == {"pension", "medical"}
    assert picks.dibao.group_names == ("dibao",)
    assert 16 <= picks.dibao.age <= 59
    assert picks.poverty.group_names == ("poverty",)
    assert picks.student.is_student
    assert picks.senior.age == 65
    assert [r.scheme for r in picks.senior.registrations] == ["medical"]
    assert 3 <= len(picks.household.members) <= 4
    assert showcase(2019, 2000) == picks  # the same pairs every time


def test_the_showcase_stays_within_the_size():
    picks = showcase(2019, 40)
    chosen = [picks.ordinary, picks.dibao, picks.poverty, picks.student, picks.senior]
    assert all(p.index < 40 for p in chosen if p is not None)
    if picks.household:
        assert all(m.index < 40 for m in picks.household.members)
