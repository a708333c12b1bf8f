"""Which registrations the government pays in full, priced by the fee engine.

A registration qualifies when, with the person's special-group memberships of the policy's
collection year and the lowest grade open to them (pension), the quote leaves nothing to pay and
the government pays something. The same test runs when a batch is drafted and again when it is
confirmed, since a membership may be withdrawn or the policy replaced in between.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from backend.enrollees.groups import groups_by_year, memberships_of
from backend.fees import NotEligible, PolicyBook, PolicyNotFound, Quote, quote
from backend.models import Enrollee, Registration


def candidates() -> Select:
    """Registrations with what pricing them needs; the caller adds the WHERE."""
    return select(
        Registration.id,
        Registration.ref,
        Registration.collection_no,
        Registration.village_code,
        Registration.scheme,
        Registration.period_year,
        Registration.status,
        Registration.school_code,
        Enrollee.name,
        Enrollee.id_sealed,
        Enrollee.birth_date,
        memberships_of(Registration.enrollee_id),
    ).join(Enrollee, Enrollee.id == Registration.enrollee_id)


def government_quote(book: PolicyBook, row: Any) -> Quote | None:
    """The quote of a candidate row when the government pays all of it, else None."""
    try:
        policy = book.scheme_policy(row.village_code, row.scheme, row.period_year)
    except PolicyNotFound:
        return None
    groups = groups_by_year(row.memberships).get(policy.collection_year, frozenset())
    try:
        priced = quote(
            policy, birth_date=row.birth_date, groups=groups, is_student=row.school_code is not None
        )
    except NotEligible:
        return None
    if priced.payable_fen == 0 and priced.gov_paid_fen > 0:
        return priced
    return None
