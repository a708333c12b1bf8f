"""Builders for test data written straight through the ORM."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from backend.ledger.pushes import enqueue_pushes
from backend.models import Enrollee, Registration, SpecialGroupMembership
from backend.models.registrations import new_ref
from backend.progress import journal
from backend.values.id_numbers import birth_date
from tests.support.people import make_id_number
from tests.support.regions import VILLAGE

_serial = iter(range(1, 10**9))


def add_person(
    session: Session,
    *,
    name: str = "张三",
    birth: str = "19800101",
    seq: str = "001",
    village: str = VILLAGE,
    schemes: tuple[tuple[str, int], ...] = (("pension", 2019), ("medical", 2020)),
    groups: tuple[str, ...] = (),
    group_year: int = 2019,
    school_code: str | None = None,
    study_years_left: int | None = None,
) -> tuple[Enrollee, list[Registration]]:
    number = make_id_number(area=village[:6], birth=birth, seq=seq)
    person = Enrollee(
        id_number=number, name=name, birth_date=birth_date(number), village_code=village
    )
    session.add(person)
    session.flush()
    registrations = []
    for scheme, year in schemes:
        registration = Registration(
            ref=new_ref(),
            enrollee_id=person.id,
            scheme=scheme,
            period_year=year,
            collection_no=f"T{next(_serial):09d}",
            village_code=village,
            school_code=school_code,
            study_years_left=study_years_left,
        )
        session.add(registration)
        registrations.append(registration)
    session.flush()
    # As an import would: the registrations count in the progress journal of their day.
    journal.registered(
        session.connection(),
        day=journal.day_of(registrations[0].created_at) if registrations else date.today(),
        added=[(r.village_code, r.scheme, r.period_year) for r in registrations],
    )
    for group in groups:
        session.add(
            SpecialGroupMembership(
                enrollee_id=person.id, group=group, year=group_year, source="民政"
            )
        )
    # As an import would: each registration's push to the bureau, due at once.
    if registrations:
        enqueue_pushes(
            session.connection(),
            [r.id for r in registrations],
            now=registrations[0].created_at,
        )
    session.commit()
    return person, registrations


def age_on_2019(years: int) -> str:
    """A birth date (YYYYMMDD) making someone exactly `years` old on 1 January 2019."""
    return date(2019 - years, 1, 1).strftime("%Y%m%d")
