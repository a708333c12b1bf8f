"""Where finance totals come from: the paid items of a county, scheme and period_year.

Three kinds of paid registration carry government money:
- an order item whose registration its order still pays (held, and paid or treasury entered): the
  gov_paid and contribution subsidy priced when the order was made (a resident's order or a
  school's batch). The item does not keep the group it was priced for, so the group is the
  policy's choice among the person's memberships of the collection year (UNKNOWN_GROUP if none of
  them helps any more);
- a collector batch item the treasury entered: priced, and its group chosen, the same way;
- a government batch item that confirming credited: the amounts and group of its draft.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.enrollees.groups import groups_by_year, memberships_of
from backend.fees import SchemePolicy, applied_group
from backend.finance.totals import UNKNOWN_GROUP, Subsidised
from backend.models import (
    CollectorBatchItem,
    GovernmentBatch,
    GovernmentBatchItem,
    OrderItem,
    Registration,
)
from backend.states.collectors import ItemOutcome
from backend.states.government import BatchStatus
from backend.states.registrations import PAID_UP

_PAID_UP = tuple(sorted(status.value for status in PAID_UP))


def subsidised_items(
    session: Session, policy: SchemePolicy, *, county: str, scheme: str, period_year: int
) -> Iterator[Subsidised]:
    """Every paid registration of the county (6 digits) with government money in it."""
    in_county = Registration.village_code.startswith(county[:6], autoescape=True)
    orders = select(
        OrderItem.gov_paid_fen,
        OrderItem.contribution_subsidy_fen,
        memberships_of(Registration.enrollee_id),
    ).join(Registration, Registration.id == OrderItem.held_registration_id)
    yield from _priced(
        session,
        policy,
        orders.where(
            Registration.status.in_(_PAID_UP),
            in_county,
            OrderItem.scheme == scheme,
            OrderItem.period_year == period_year,
        ),
    )
    collected = select(
        CollectorBatchItem.gov_paid_fen,
        CollectorBatchItem.contribution_subsidy_fen,
        memberships_of(Registration.enrollee_id),
    ).join(Registration, Registration.id == CollectorBatchItem.registration_id)
    yield from _priced(
        session,
        policy,
        collected.where(
            CollectorBatchItem.outcome == ItemOutcome.ENTERED.value,
            Registration.status.in_(_PAID_UP),
            in_county,
            CollectorBatchItem.scheme == scheme,
            CollectorBatchItem.period_year == period_year,
        ),
    )
    yield from _government_items(session, county, scheme, period_year)


def _priced(session: Session, policy: SchemePolicy, query) -> Iterator[Subsidised]:
    """Items priced when paid, (gov_paid_fen, contribution_subsidy_fen, memberships) rows."""
    for gov_paid_fen, subsidy_fen, memberships in session.execute(query):
        group = None
        if gov_paid_fen:
            groups = groups_by_year(memberships).get(policy.collection_year, frozenset())
            group = applied_group(policy, groups) or UNKNOWN_GROUP
        yield Subsidised(group, gov_paid_fen, subsidy_fen)


def _government_items(
    session: Session, county: str, scheme: str, period_year: int
) -> Iterator[Subsidised]:
    query = (
        select(
            GovernmentBatchItem.applied_group,
            GovernmentBatchItem.gov_paid_fen,
            GovernmentBatchItem.contribution_subsidy_fen,
        )
        .join(GovernmentBatch, GovernmentBatch.id == GovernmentBatchItem.batch_id)
        .where(
            GovernmentBatch.status == BatchStatus.CONFIRMED.value,
            GovernmentBatch.county_code == county[:6].ljust(12, "0"),
            GovernmentBatch.scheme == scheme,
            GovernmentBatch.period_year == period_year,
            GovernmentBatchItem.outcome == "credited",
        )
    )
    for group, gov_paid_fen, subsidy_fen in session.execute(query):
        yield Subsidised(group, gov_paid_fen, subsidy_fen)
