"""Resident lookup: find a registered person by ID number + name and price each registration.

An unknown ID number and a name that does not match end the same way (NotFound), after the same
work, so the answer cannot be used to learn who is registered. Three queries per lookup: the
enrollee with the names of their village, township and county; their registrations; their
special-group memberships.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from backend import id_numbers
from backend.fees import NotEligible, PolicyBook, PolicyNotFound, Quote, pension_options, quote
from backend.masking import mask_id_number, mask_name
from backend.models import Enrollee, Region, Registration, SpecialGroupMembership

log = logging.getLogger(__name__)

# Compared against when the ID number is unknown, so both paths do a name comparison.
_NOBODY = "\u0000" * 4


class NotFound(Exception):
    """No registered person with this ID number and name."""


@dataclass(frozen=True)
class Resident:
    """The enrollee as found, before pricing (kept apart so orders can reuse the lookup)."""

    enrollee: Enrollee
    village: dict[str, str]
    registrations: list[Registration]
    groups_by_year: dict[int, frozenset[str]]


def enrollee_ref(secret_key: str, enrollee_id: int) -> str:
    """A stable opaque reference: clients never see our row ids."""
    digest = hmac.new(secret_key.encode(), f"enrollee:{enrollee_id}".encode(), hashlib.sha256)
    return "E" + digest.hexdigest()[:16]


def find_resident(session: Session, id_number: str, name: str) -> Resident:
    """Raise InvalidIdNumber for a malformed number, NotFound for unknown or mismatched."""
    number = id_numbers.validate(id_number)
    village, township, county = aliased(Region), aliased(Region), aliased(Region)
    row = session.execute(
        select(Enrollee, village.name, township.name, county.name)
        .join(village, village.code == Enrollee.village_code)
        .outerjoin(township, township.code == village.parent_code)
        .outerjoin(county, county.code == township.parent_code)
        .where(Enrollee.id_number == number)
    ).first()
    stored_name = row[0].name if row else _NOBODY
    name_matches = hmac.compare_digest(stored_name.strip().encode(), name.strip().encode())
    if row is None or not name_matches:
        log.info("lookup of %s: no match", mask_id_number(number))
        raise NotFound
    person, village_name, township_name, county_name = row
    registrations = session.scalars(
        select(Registration)
        .where(Registration.enrollee_id == person.id)
        .order_by(Registration.period_year, Registration.scheme)
    ).all()
    groups: dict[int, set[str]] = {}
    for group, year in session.execute(
        select(SpecialGroupMembership.group, SpecialGroupMembership.year).where(
            SpecialGroupMembership.enrollee_id == person.id
        )
    ):
        groups.setdefault(year, set()).add(group)
    full_name = "".join(n for n in (county_name, township_name, village_name) if n)
    log.info("lookup of %s: %d registrations", mask_id_number(number), len(registrations))
    return Resident(
        enrollee=person,
        village={"code": person.village_code, "name": village_name, "full_name": full_name},
        registrations=list(registrations),
        groups_by_year={year: frozenset(g) for year, g in groups.items()},
    )


def _money(q: Quote) -> dict[str, Any]:
    return {
        "payable_fen": q.payable_fen,
        "gov_paid_fen": q.gov_paid_fen,
        "contribution_subsidy_fen": q.contribution_subsidy_fen,
    }


def price_registration(
    book: PolicyBook, resident: Resident, registration: Registration
) -> dict[str, Any]:
    """What this registration costs the person, with the subsidy shown line by line."""
    answer: dict[str, Any] = {
        "ref": registration.ref,
        "scheme": registration.scheme,
        "period_year": registration.period_year,
        "status": registration.status,
        "payable_fen": 0,
        "gov_paid_fen": 0,
        "contribution_subsidy_fen": 0,
        "grades": [],
        "breakdown": [],
        "applied_group": None,
        "deadline": None,
        "ineligible_reason": None,
    }
    try:
        policy = book.scheme_policy(
            registration.village_code, registration.scheme, registration.period_year
        )
    except PolicyNotFound:
        answer["ineligible_reason"] = (
            f"{registration.period_year}年度缴费政策尚未发布，暂不能缴费。"
        )
        return answer
    person = resident.enrollee
    groups = resident.groups_by_year.get(policy.collection_year, frozenset())
    answer["deadline"] = policy.deadline
    try:
        if registration.scheme == "pension":
            options = pension_options(
                policy,
                birth_date=person.birth_date,
                groups=groups,
                is_student=registration.is_student,
            )
            chosen = options[0]
            answer["grades"] = [{"grade_yuan": q.grade_yuan, **_money(q)} for q in options]
        else:
            chosen = quote(
                policy,
                birth_date=person.birth_date,
                groups=groups,
                is_student=registration.is_student,
            )
    except NotEligible as exc:
        answer["ineligible_reason"] = exc.reason
        return answer
    answer.update(_money(chosen))
    answer["applied_group"] = chosen.applied_group
    answer["breakdown"] = [
        {"kind": line.kind, "label": line.label, "amount_fen": line.amount_fen}
        for line in chosen.breakdown
    ]
    return answer


def lookup(
    session: Session, book: PolicyBook, secret_key: str, id_number: str, name: str
) -> dict[str, Any]:
    """The resident API's lookup answer (design.md section 6)."""
    resident = find_resident(session, id_number, name)
    person = resident.enrollee
    return {
        "enrollee": {
            "ref": enrollee_ref(secret_key, person.id),
            "name_masked": mask_name(person.name),
            "id_number_masked": mask_id_number(person.id_number),
            "village": resident.village,
        },
        "registrations": [price_registration(book, resident, r) for r in resident.registrations],
    }
