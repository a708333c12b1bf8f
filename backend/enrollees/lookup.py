"""Resident lookup: find a registered person by ID number + name and price each registration.

An unknown ID number and a name that does not match end the same way (NotFound), after the same
work, so the answer cannot be used to learn who is registered. One query per lookup brings the
enrollee, the names of their village, township and county, their special-group memberships and
their registrations.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, cast, func, select
from sqlalchemy.orm import aliased

from backend.fees import NotEligible, PolicyBook, PolicyNotFound, Quote, pension_options, quote
from backend.infra.statements import Reader
from backend.models import Enrollee, Region, Registration, SpecialGroupMembership
from backend.values import id_numbers
from backend.values.masking import mask_id_number, mask_name

log = logging.getLogger(__name__)

# Compared against when the ID number is unknown, so both paths do a name comparison.
_NOBODY = "\u0000" * 4

# One statement, built once: constructing a select costs more CPU than PostgreSQL spends
# answering it, and the lookup is the busiest endpoint. A row per registration (one row with
# empty registration columns when there is none), run through backend.infra.statements (compiled once
# per dialect, one autocommit round trip), no ORM identity map.
_village, _township, _county = aliased(Region), aliased(Region), aliased(Region)
_FIND = (
    select(
        Enrollee.id,
        Enrollee.id_number,
        Enrollee.name,
        Enrollee.birth_date,
        Enrollee.village_code,
        _village.name.label("village_name"),
        _township.name.label("township_name"),
        _county.name.label("county_name"),
        # Memberships ride along as "group:year,group:year" (string_agg / group_concat).
        select(
            func.aggregate_strings(
                SpecialGroupMembership.group + ":" + cast(SpecialGroupMembership.year, String),
                ",",
            )
        )
        .where(SpecialGroupMembership.enrollee_id == Enrollee.id)
        .scalar_subquery()
        .label("memberships"),
        Registration.ref,
        Registration.scheme,
        Registration.period_year,
        Registration.status,
        Registration.village_code.label("registration_village_code"),
        Registration.school_code,
    )
    .join(_village, _village.code == Enrollee.village_code)
    .outerjoin(_township, _township.code == _village.parent_code)
    .outerjoin(_county, _county.code == _township.parent_code)
    .outerjoin(Registration, Registration.enrollee_id == Enrollee.id)
    .where(Enrollee.id_number == bindparam("id_number"))
    .order_by(Registration.period_year, Registration.scheme)
)


@dataclass(frozen=True)
class RegistrationRow:
    ref: str
    scheme: str
    period_year: int
    status: str
    village_code: str
    school_code: str | None


class NotFound(Exception):
    """No registered person with this ID number and name."""


@dataclass(frozen=True)
class Resident:
    """The enrollee as found, before pricing (kept apart so orders can reuse the lookup)."""

    enrollee: Any  # a row of _FIND
    village: dict[str, str]
    registrations: list[RegistrationRow]
    groups_by_year: dict[int, frozenset[str]]


def enrollee_ref(secret_key: str, enrollee_id: int) -> str:
    """A stable opaque reference: clients never see our row ids."""
    digest = hmac.new(secret_key.encode(), f"enrollee:{enrollee_id}".encode(), hashlib.sha256)
    return "E" + digest.hexdigest()[:16]


def find_resident(reader: Reader, id_number: str, name: str) -> Resident:
    """Raise InvalidIdNumber for a malformed number, NotFound for unknown or mismatched."""
    number = id_numbers.validate(id_number)
    rows = reader.all(_FIND, id_number=number)
    person = rows[0] if rows else None
    stored_name = person.name if person else _NOBODY
    name_matches = hmac.compare_digest(stored_name.strip().encode(), name.strip().encode())
    if person is None or not name_matches:
        log.info("lookup of %s: no match", mask_id_number(number))
        raise NotFound
    registrations = [
        RegistrationRow(
            r.ref, r.scheme, r.period_year, r.status, r.registration_village_code, r.school_code
        )
        for r in rows
        if r.ref is not None
    ]
    groups: dict[int, set[str]] = {}
    for membership in (person.memberships or "").split(","):
        if membership:
            group, _, year = membership.partition(":")
            groups.setdefault(int(year), set()).add(group)
    names = (person.county_name, person.township_name, person.village_name)
    log.info("lookup of %s: %d registrations", mask_id_number(number), len(registrations))
    return Resident(
        enrollee=person,
        village={
            "code": person.village_code,
            "name": person.village_name,
            "full_name": "".join(n for n in names if n),
        },
        registrations=registrations,
        groups_by_year={year: frozenset(g) for year, g in groups.items()},
    )


def _money(q: Quote) -> dict[str, Any]:
    return {
        "payable_fen": q.payable_fen,
        "gov_paid_fen": q.gov_paid_fen,
        "contribution_subsidy_fen": q.contribution_subsidy_fen,
    }


def price_registration(
    book: PolicyBook, resident: Resident, registration: RegistrationRow
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
    answer["deadline"] = policy.deadline.isoformat()
    try:
        if registration.scheme == "pension":
            options = pension_options(
                policy,
                birth_date=person.birth_date,
                groups=groups,
                is_student=registration.school_code is not None,
            )
            chosen = options[0]
            answer["grades"] = [{"grade_yuan": q.grade_yuan, **_money(q)} for q in options]
        else:
            chosen = quote(
                policy,
                birth_date=person.birth_date,
                groups=groups,
                is_student=registration.school_code is not None,
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
    reader: Reader, book: PolicyBook, secret_key: str, id_number: str, name: str
) -> dict[str, Any]:
    """The resident API's lookup answer (design.md section 6)."""
    resident = find_resident(reader, id_number, name)
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
