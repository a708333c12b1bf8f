"""Resident lookup: find a registered person by ID number + name and price each registration.

An unknown ID number and a name that does not match end the same way (NotFound), after the same
work, so the answer cannot be used to learn who is registered. One query per lookup brings the
enrollee, the names of their village, township and county, their special-group memberships and
their registrations. The answer is plain data; the API shapes it (and masks the person).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from backend import errors
from backend.enrollees.groups import GroupsByYear, groups_by_year, memberships_of
from backend.fees import NotEligible, PolicyBook, PolicyNotFound, Quote, pension_options, quote
from backend.fees.window import window_refusal
from backend.infra import id_vault
from backend.infra.statements import Reader
from backend.models import Enrollee, Region, Registration
from backend.states.registrations import RegistrationStatus
from backend.values import id_numbers
from backend.values.labels import registration_label
from backend.values.masking import mask_id_number

log = logging.getLogger(__name__)

# Compared against when the ID number is unknown, so both paths do a name comparison.
_NOBODY = "\u0000" * 4

# One statement, built once: constructing a select costs more CPU than PostgreSQL spends
# answering it, and the lookup is the busiest endpoint. A row per registration (one row with
# empty registration columns when there is none), run through backend.infra.statements (compiled
# once per dialect, one autocommit round trip), no ORM identity map.
_village, _township, _county = aliased(Region), aliased(Region), aliased(Region)
_FIND = (
    select(
        Enrollee.id,
        Enrollee.name,
        Enrollee.birth_date,
        Enrollee.village_code,
        _village.name.label("village_name"),
        _township.name.label("township_name"),
        _county.name.label("county_name"),
        memberships_of(Enrollee.id),
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
    .where(Enrollee.id_hash == bindparam("id_hash"))
    .order_by(Registration.period_year, Registration.scheme)
)


NOT_REGISTERED = "未找到该参保人：请核对身份证号和姓名，或联系村（社区）协办员确认参保登记。"


class NotFound(errors.NotFound):
    """No registered person with this ID number and name."""


@dataclass(frozen=True)
class RegistrationRow:
    ref: str
    scheme: str
    period_year: int
    status: str
    village_code: str
    school_code: str | None


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    full_name: str


@dataclass(frozen=True)
class Resident:
    """The enrollee as found, before pricing."""

    enrollee_id: int
    id_number: str
    name: str
    birth_date: date
    village: Village
    registrations: list[RegistrationRow]
    groups_by_year: GroupsByYear


@dataclass(frozen=True)
class PricedRegistration:
    """What one registration costs the person, and whether it can be paid now."""

    ref: str
    scheme: str
    period_year: int
    status: str
    chosen: Quote | None  # pension: at the lowest open grade; None when it cannot be priced
    grades: tuple[Quote, ...]  # pension only
    deadline: date | None  # the campaign's target date for the scheme
    window: tuple[date, date] | None  # the first and the last day it can be paid
    ineligible_reason: str | None
    payable_now: bool
    not_payable_reason: str | None  # why it cannot be paid now (None when the status says it)


@dataclass(frozen=True)
class LookupResult:
    enrollee_ref: str
    name: str
    id_number: str
    village: Village
    registrations: list[PricedRegistration]


def enrollee_ref(secret_key: str, enrollee_id: int) -> str:
    """A stable opaque reference: clients never see our row ids."""
    digest = hmac.new(secret_key.encode(), f"enrollee:{enrollee_id}".encode(), hashlib.sha256)
    return "E" + digest.hexdigest()[:16]


def find_resident(reader: Reader, id_number: str, name: str, *, today: date) -> Resident:
    """InvalidIdNumber for a malformed number, NotFound for one unknown or mismatched."""
    number = id_numbers.validate(id_number, today=today)
    rows = reader.all(_FIND, id_hash=id_vault.hash_id(number))
    person = rows[0] if rows else None
    stored_name = person.name if person else _NOBODY
    name_matches = hmac.compare_digest(stored_name.strip().encode(), name.strip().encode())
    if person is None or not name_matches:
        log.info("lookup of %s: no match", mask_id_number(number))
        raise NotFound(NOT_REGISTERED, reason="not_registered")
    registrations = [
        RegistrationRow(
            r.ref, r.scheme, r.period_year, r.status, r.registration_village_code, r.school_code
        )
        for r in rows
        if r.ref is not None
    ]
    names = (person.county_name, person.township_name, person.village_name)
    log.info("lookup of %s: %d registrations", mask_id_number(number), len(registrations))
    return Resident(
        enrollee_id=person.id,
        id_number=number,  # the number whose hash found the person
        name=person.name,
        birth_date=person.birth_date,
        village=Village(person.village_code, person.village_name, "".join(n for n in names if n)),
        registrations=registrations,
        groups_by_year=groups_by_year(person.memberships),
    )


def price_registration(
    book: PolicyBook, resident: Resident, registration: RegistrationRow, *, today: date
) -> PricedRegistration:
    """The price of a registration to this person, and whether it can be paid `today`."""

    def priced(**found) -> PricedRegistration:
        return PricedRegistration(
            ref=registration.ref,
            scheme=registration.scheme,
            period_year=registration.period_year,
            status=registration.status,
            **{**_NOT_PRICED, **found},
        )

    label = registration_label(registration.scheme, registration.period_year)
    try:
        policy = book.scheme_policy(
            registration.village_code, registration.scheme, registration.period_year
        )
    except PolicyNotFound:
        reason = f"{label}缴费政策尚未发布，暂不能缴费。"
        return priced(ineligible_reason=reason, not_payable_reason=reason)
    dates = {"deadline": policy.deadline, "window": policy.window}
    groups = resident.groups_by_year.get(policy.collection_year, frozenset())
    student = registration.school_code is not None
    try:
        if registration.scheme == "pension":
            grades = tuple(
                pension_options(
                    policy, birth_date=resident.birth_date, groups=groups, is_student=student
                )
            )
            chosen = grades[0]
        else:
            grades = ()
            chosen = quote(
                policy, birth_date=resident.birth_date, groups=groups, is_student=student
            )
    except NotEligible as exc:
        return priced(**dates, ineligible_reason=exc.reason, not_payable_reason=exc.reason)
    quoted = {**dates, "chosen": chosen, "grades": grades}
    if registration.status != RegistrationStatus.UNPAID:
        return priced(**quoted)  # paid, or being paid: the status says why not again
    # Pension: a person the government pays for may still choose a higher grade.
    if not any(q.payable_fen for q in (*grades, chosen)):
        return priced(**quoted, not_payable_reason=f"{label}由政府全额代缴，无需个人缴费。")
    closed = window_refusal(policy, today)
    if closed:
        return priced(**quoted, not_payable_reason=closed)
    return priced(**quoted, payable_now=True)


_NOT_PRICED = {
    "chosen": None,
    "grades": (),
    "deadline": None,
    "window": None,
    "ineligible_reason": None,
    "payable_now": False,
    "not_payable_reason": None,
}


def lookup(
    reader: Reader, book: PolicyBook, secret_key: str, id_number: str, name: str, *, today: date
) -> LookupResult:
    """The person and every registration of theirs, priced (design.md section 6)."""
    resident = find_resident(reader, id_number, name, today=today)
    return LookupResult(
        enrollee_ref=enrollee_ref(secret_key, resident.enrollee_id),
        name=resident.name,
        id_number=resident.id_number,
        village=resident.village,
        registrations=[
            price_registration(book, resident, r, today=today) for r in resident.registrations
        ],
    )
