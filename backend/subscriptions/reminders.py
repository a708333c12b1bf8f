"""Deadline reminders: a subscribed payer hears, a few days before a campaign deadline, that
registrations of their household are still unpaid.

The grain is one message per payer and deadline, saying how many are unpaid (kinder than one per
registration, and a one-time allowance covers one message anyway). The payer's household is
what the payer showed us they know: the people of their own orders, each of whom they looked up
by ID number and name. Never the rest of a household number: a resident learns nothing of a
person they did not look up (the resident API's rule, tests/integration/test_household_privacy.py).
The deadline is the
one the lookup shows, the scheme's campaign target date in the policy of the registration's
place (backend/fees). Written once per (payer, deadline): a second scan finds it told.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.fees import PolicyBook
from backend.fees.policy import PolicyNotFound
from backend.infra.uow import UnitOfWork
from backend.models import Enrollee, OrderItem, PaymentOrder, Registration, Subscription
from backend.states.registrations import RegistrationStatus
from backend.subscriptions import templates
from backend.subscriptions.allowances import enqueue
from backend.values.beijing import beijing_today

log = logging.getLogger(__name__)

PAYERS_PER_BATCH = 500


@dataclass
class ReminderReport:
    payers: int = 0  # subscribed payers looked at
    written: int = 0

    def __str__(self) -> str:
        return f"{self.written} reminders written ({self.payers} payers looked at)"


def remind_due(
    uow: UnitOfWork, book: PolicyBook, *, now: datetime, days: int, batch: int = PAYERS_PER_BATCH
) -> ReminderReport:
    """Write the reminders due today (a deadline within `days` days, today included), looking
    at every payer with a deadline allowance left, `batch` at a time, each in a transaction of
    its own. Another worker writing the same reminder at the same moment wins; this one moves on."""
    report = ReminderReport()
    today = beijing_today(now)
    after = 0
    while True:
        with uow as session:
            payers = session.execute(
                select(Subscription.id, Subscription.openid)
                .where(
                    Subscription.kind == "deadline",
                    Subscription.remaining > 0,
                    Subscription.id > after,
                )
                .order_by(Subscription.id)
                .limit(batch)
            ).all()
        if not payers:
            return report
        after = payers[-1].id
        for payer in payers:
            report.payers += 1
            try:
                report.written += _remind(uow, book, payer.openid, today=today, days=days, now=now)
            except IntegrityError:
                log.info("a reminder to a payer was written by another worker meanwhile")


def _remind(
    uow: UnitOfWork, book: PolicyBook, openid: str, *, today: date, days: int, now: datetime
) -> int:
    written = 0
    with uow as session:
        due = _unpaid_by_deadline(session, book, openid, today=today, days=days)
        for deadline, names in sorted(due.items()):
            data = templates.deadline(
                names=list(dict.fromkeys(names)),
                deadline=deadline,
                unpaid=len(names),
                days_left=(deadline - today).days,
            )
            written += enqueue(
                session,
                openid=openid,
                kind="deadline",
                event_key=f"deadline:{deadline.isoformat()}",
                data=data,
                page=templates.LOOKUP_PAGE,
                now=now,
            )
    return written


def _unpaid_by_deadline(
    session: Session, book: PolicyBook, openid: str, *, today: date, days: int
) -> dict[date, list[str]]:
    """The names on the unpaid registrations of the people the payer ordered for, by their
    deadline, for the deadlines from today to `days` days on."""
    ordered_for = (
        select(Registration.enrollee_id)
        .join(OrderItem, OrderItem.registration_id == Registration.id)
        .join(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
        .where(PaymentOrder.openid == openid)
    )
    unpaid = session.execute(
        select(
            Registration.village_code, Registration.scheme, Registration.period_year, Enrollee.name
        )
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            Registration.status == RegistrationStatus.UNPAID.value,
            Registration.enrollee_id.in_(ordered_for),
        )
        .order_by(Registration.id)
    ).all()
    last = today + timedelta(days=days)
    due: dict[date, list[str]] = defaultdict(list)
    for row in unpaid:
        try:
            deadline = book.scheme_policy(row.village_code, row.scheme, row.period_year).deadline
        except PolicyNotFound:
            continue  # no policy, no deadline the lookup would show either
        if today <= deadline <= last:
            due[deadline].append(row.name)
    return due
