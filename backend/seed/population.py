"""A synthetic population for the demo: households, people, special groups and registrations.

Pure and deterministic: plain data out, no database. One random stream per seed is consumed in
household order and nothing depends on the requested size, so the first N people are the same
whatever size is asked for; seeding a bigger size on top of a smaller one only adds people.

Ages are counted on 1 January 2019, the day the 2019 pension age rule looks at. Everyone gets a
medical registration for 2020; people aged 16 to 59 who are not students also a pension one for
2019. Some people aged 18 to 22 are students: their medical registration names a school and the
study years left, and they have no pension registration.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from stdnum.cn import ric

from backend.seed import names
from backend.seed.regions import COUNTIES, villages_by_county

DEFAULT_SEED = 2019
REFERENCE_DAY = date(2019, 1, 1)
MAX_AGE = 90
PENSION_YEAR = 2019
PENSION_AGES = (16, 59)
MEDICAL_YEAR = 2020
GROUP_YEAR = 2019
STUDENT_AGES = (18, 22)
# National codes of Xinxiang's universities: 河南师范大学, 新乡医学院, 河南科技学院, 新乡学院.
SCHOOL_CODES = ("10476", "10472", "10467", "11071")
SCHEME_DIGIT = {"pension": "1", "medical": "2"}
GROUP_SOURCE = {
    "dibao": "民政",
    "tekun": "民政",
    "orphan": "民政",
    "child_in_distress": "民政",
    "poverty": "扶贫办",
    "disabled_severe": "残联",
}

_OLDEST_BIRTH = date(REFERENCE_DAY.year - MAX_AGE - 1, 1, 2)
_BIRTH_DAYS = (REFERENCE_DAY - _OLDEST_BIRTH).days + 1
# Lookup tables: formatting a million dates one by one is a noticeable part of a big seed.
_BIRTH_DATES = tuple(_OLDEST_BIRTH + timedelta(days=n) for n in range(_BIRTH_DAYS))
_BIRTH_DIGITS = tuple(f"{d:%Y%m%d}" for d in _BIRTH_DATES)
# Days (counted from _OLDEST_BIRTH) of the first and last birthday giving each age.
_AGE_DAYS = tuple(
    (
        (date(REFERENCE_DAY.year - age - 1, 1, 2) - _OLDEST_BIRTH).days,
        (date(REFERENCE_DAY.year - age, 1, 1) - _OLDEST_BIRTH).days,
    )
    for age in range(MAX_AGE + 1)
)
# ID sequence numbers per (county, birth day, sex): odd for men, even for women, 001/000 unused.
_SEQ_SLOTS = 499


class RegistrationRow(NamedTuple):
    scheme: str
    period_year: int
    collection_no: str
    ref: str
    school_code: str | None = None
    study_years_left: int | None = None


class Person(NamedTuple):
    index: int  # position in the seed's stream, from 0
    id_number: str
    name: str
    sex: str  # 'M' or 'F'
    birth_date: date
    age: int  # on REFERENCE_DAY
    village_code: str
    household_no: str
    relation: str  # to the head of the household: head, spouse, child, parent, grandchild
    groups: tuple[tuple[str, str], ...]  # (group, source), all for GROUP_YEAR
    registrations: tuple[RegistrationRow, ...]

    @property
    def is_student(self) -> bool:
        return any(r.school_code for r in self.registrations)

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g for g, _ in self.groups)


class Household(NamedTuple):
    household_no: str
    village_code: str
    members: tuple[Person, ...]


def registration_ref(seed: int, index: int, scheme: str) -> str:
    """The public reference of a person's registration: 'R' + 16 hex, same on every re-seed."""
    digest = hashlib.blake2b(
        f"{seed}:{index}:{scheme}".encode(), digest_size=8, person=b"seed-demo"
    )
    return "R" + digest.hexdigest()


def collection_no(county6: str, scheme: str, index: int) -> str:
    return f"{county6}{SCHEME_DIGIT[scheme]}{index:09d}"


def age_on(day: date, birth: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def people(seed: int = DEFAULT_SEED, size: int | None = None) -> Iterator[Person]:
    """The first `size` people of the seed's stream (all of it, endlessly, when size is None)."""
    stream = (p for household in households(seed) for p in household.members)
    return stream if size is None else itertools.islice(stream, size)


def households(seed: int = DEFAULT_SEED) -> Iterator[Household]:
    """Households in a fixed order, endlessly; take as many as needed."""
    return _Generator(seed).households()


# A member before names and numbers: relation, age, sex, and whether they carry the family
# surname (children, the head) or their own (a spouse who married in).
@dataclass(slots=True)
class _Plan:
    relation: str
    age: int
    sex: str
    family_surname: bool = True
    groups: list[str] = field(default_factory=list)


class _Generator:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.index = 0
        self.county_index = {c.code6: i for i, c in enumerate(COUNTIES)}
        self.county_cum_weights = list(itertools.accumulate(c.weight for c in COUNTIES))
        self.villages = villages_by_county()
        self.households_in_village: dict[str, int] = {}
        self.seq_used = array("H", bytes(2 * len(COUNTIES) * _BIRTH_DAYS * 2))
        self.surname_cum_weights = list(itertools.accumulate(names.SURNAME_WEIGHTS))

    def households(self) -> Iterator[Household]:
        while True:
            yield self._household()

    def _household(self) -> Household:
        rng = self.rng
        county = rng.choices(COUNTIES, cum_weights=self.county_cum_weights)[0]
        village = rng.choice(self.villages[county.code6]).code
        serial = self.households_in_village.get(village, 0) + 1
        self.households_in_village[village] = serial
        household_no = f"{village}{serial:04d}"

        plans = self._plan_members()
        roll = rng.random()
        household_group = "poverty" if roll < 0.02 else "dibao" if roll < 0.045 else None
        family_surname = self._surname()
        members = []
        taken_names: set[str] = set()
        for plan in plans:
            groups = list(plan.groups)
            if household_group:
                groups.append(household_group)
            if rng.random() < 0.01:
                groups.append("disabled_severe")
            surname = family_surname if plan.family_surname else self._surname()
            members.append(
                self._person(
                    plan, surname, county.code6, village, household_no, groups, taken_names
                )
            )
        return Household(household_no, village, tuple(members))

    def _plan_members(self) -> list[_Plan]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.10:  # someone living alone, more often old
            age = int(rng.triangular(18, MAX_AGE, 72))
            plan = _Plan("head", age, rng.choice("MF"))
            if age >= 60 and rng.random() < 0.2:
                plan.groups.append("tekun")  # old, alone, no one obliged to support them
            return [plan]
        if roll < 0.32:  # a couple
            husband = rng.randint(22, 88)
            wife = _clamp(husband - rng.randint(-2, 5), 20, MAX_AGE)
            return [_Plan("head", husband, "M"), _Plan("spouse", wife, "F", False)]
        if roll < 0.36:  # grandparents raising grandchildren while the parents work away
            grandfather = rng.randint(52, 85)
            plans = [_Plan("head", grandfather, "M")]
            if rng.random() < 0.7:
                plans.append(
                    _Plan("spouse", _clamp(grandfather - rng.randint(0, 4), 48, 90), "F", False)
                )
            for _ in range(rng.randint(1, 2)):
                child = _Plan("grandchild", rng.randint(0, 16), rng.choice("MF"))
                distress = rng.random()
                if distress < 0.08:
                    child.groups.append("orphan")
                elif distress < 0.33:
                    child.groups.append("child_in_distress")
                plans.append(child)
            return plans
        if roll < 0.41:  # a single parent
            parent = rng.randint(25, 55)
            plans = [_Plan("head", parent, rng.choice("MF"))]
            for _ in range(rng.randint(1, 3)):
                plans.append(_Plan("child", _child_age(rng, parent), rng.choice("MF")))
            return plans
        return self._family_plan()

    def _family_plan(self) -> list[_Plan]:
        """Parents, children and perhaps the head's parents: 3 to 6 people."""
        rng = self.rng
        size = rng.choices((3, 4, 5, 6), weights=(40, 33, 18, 9))[0]
        rest = size - 2
        grandparents = rng.randint(0 if rest <= 3 else 1, min(2, rest - 1))
        father = rng.randint(24, 58) if grandparents else rng.randint(22, 55)
        mother = _clamp(father - rng.randint(-2, 4), 20, MAX_AGE)
        plans = [_Plan("head", father, "M"), _Plan("spouse", mother, "F", False)]
        plans += [
            _Plan("child", _child_age(rng, mother), rng.choice("MF"))
            for _ in range(rest - grandparents)
        ]
        if grandparents:
            grandfather = min(MAX_AGE, father + rng.randint(22, 32))
            plans.append(_Plan("parent", grandfather, "M"))
            if grandparents == 2:
                grandmother = _clamp(grandfather - rng.randint(0, 4), father + 18, MAX_AGE)
                plans.append(_Plan("parent", grandmother, "F", False))
        return plans

    def _person(
        self,
        plan: _Plan,
        surname: str,
        county6: str,
        village: str,
        household_no: str,
        groups: list[str],
        taken_names: set[str],
    ) -> Person:
        rng = self.rng
        index = self.index
        self.index += 1
        birth, id_number = self._id_number(county6, plan.age, plan.sex)
        name = surname + self._given_name(birth.year, plan.sex)
        while name in taken_names:  # two children of one family never share a name
            name = surname + self._given_name(birth.year, plan.sex)
        taken_names.add(name)

        medical = RegistrationRow(
            "medical",
            MEDICAL_YEAR,
            collection_no(county6, "medical", index),
            registration_ref(self.seed, index, "medical"),
        )
        registrations: tuple[RegistrationRow, ...]
        if STUDENT_AGES[0] <= plan.age <= STUDENT_AGES[1] and rng.random() < 0.4:
            student = RegistrationRow(
                medical.scheme,
                medical.period_year,
                medical.collection_no,
                medical.ref,
                school_code=rng.choice(SCHOOL_CODES),
                study_years_left=rng.randint(1, 4),
            )
            registrations = (student,)
        elif PENSION_AGES[0] <= plan.age <= PENSION_AGES[1]:
            pension = RegistrationRow(
                "pension",
                PENSION_YEAR,
                collection_no(county6, "pension", index),
                registration_ref(self.seed, index, "pension"),
            )
            registrations = (pension, medical)
        else:
            registrations = (medical,)

        return Person(
            index=index,
            id_number=id_number,
            name=name,
            sex=plan.sex,
            birth_date=birth,
            age=plan.age,
            village_code=village,
            household_no=household_no,
            relation=plan.relation,
            groups=tuple((g, GROUP_SOURCE[g]) for g in dict.fromkeys(groups)),
            registrations=registrations,
        )

    def _id_number(self, county6: str, age: int, sex: str) -> tuple[date, str]:
        """A birth day giving that age on REFERENCE_DAY and an ID number no one else has."""
        first, last = _AGE_DAYS[age]
        male = sex == "M"
        base = self.county_index[county6] * _BIRTH_DAYS
        while True:
            day = first + int(self.rng.random() * (last - first + 1))
            slot = ((base + day) << 1) | male
            used = self.seq_used[slot]
            if used < _SEQ_SLOTS:
                break
        self.seq_used[slot] = used + 1
        # Spread the numbers over the range instead of always starting at 002/003.
        value = (slot * 40503 + used) % _SEQ_SLOTS + 1
        first17 = f"{county6}{_BIRTH_DIGITS[day]}{value * 2 + male:03d}"
        return _BIRTH_DATES[day], first17 + ric.calc_check_digit(
            first17 + "0"
        )  # it drops the last char

    def _surname(self) -> str:
        return self.rng.choices(names.SURNAMES, cum_weights=self.surname_cum_weights)[0]

    def _given_name(self, birth_year: int, sex: str) -> str:
        rng = self.rng
        whole, singles = names.given_name_parts(birth_year, sex)
        roll = rng.random()
        if roll < 0.2:
            return rng.choice(singles)
        if roll < 0.55:
            return rng.choice(whole)
        first, second = rng.sample(singles, 2)
        return first + second


def _child_age(rng: random.Random, mother_age: int) -> int:
    """A child born when the mother was 20 to 38 (never before she was 20)."""
    return max(0, mother_age - rng.randint(20, min(38, mother_age)))


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


@dataclass(frozen=True)
class Showcase:
    """People worth trying first, each showing one rule; None when the size is too small."""

    ordinary: Person | None = None  # 16 to 59, no group, not a student: pension + medical
    dibao: Person | None = None
    poverty: Person | None = None
    student: Person | None = None
    senior: Person | None = None  # 65 (or at least 60): medical only
    household: Household | None = None  # 3 or 4 members, all within the size


def showcase(seed: int = DEFAULT_SEED, size: int | None = None) -> Showcase:
    """The first person of each kind among the first `size` people (same every run)."""
    found: dict[str, Person | Household | None] = dict.fromkeys(
        ("ordinary", "dibao", "poverty", "student", "senior", "household")
    )
    fallback_senior = None
    limit = size if size is not None else 100_000  # every kind turns up in the first thousand
    for household in households(seed):
        if household.members[0].index >= limit:
            break
        members = household.members
        if found["household"] is None and 3 <= len(members) <= 4 and members[-1].index < limit:
            found["household"] = household
        for person in members:
            if person.index >= limit:
                break
            adult = PENSION_AGES[0] <= person.age <= PENSION_AGES[1]
            groups = set(person.group_names)
            kinds = []
            if adult and not groups and not person.is_student:
                kinds.append("ordinary")
            if adult and groups == {"dibao"}:
                kinds.append("dibao")
            if adult and groups == {"poverty"}:
                kinds.append("poverty")
            if person.is_student and not groups:
                kinds.append("student")
            if person.age == 65 and not groups:
                kinds.append("senior")
            elif fallback_senior is None and person.age >= 60 and not groups:
                fallback_senior = person
            for kind in kinds:
                if found[kind] is None:
                    found[kind] = person
        if all(value is not None for value in found.values()):
            break
    if found["senior"] is None:
        found["senior"] = fallback_senior
    return Showcase(**found)  # type: ignore[arg-type]
