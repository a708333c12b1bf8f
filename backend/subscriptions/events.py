"""The events a payer hears of, each written in the transaction of the event itself.

- The treasury entry: once every registration an order still pays for is entered, the payer
  hears of it once (one message per order, with a receipt number), not once per person. Once:
  after the last entry, or after a refund that leaves only entered registrations behind.
- A refund finished: one message per refund.
(Deadline reminders are the worker's: reminders.py.)
Nothing is written for a payer without an allowance of the kind (allowances.enqueue).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import (
    Enrollee,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    Refund,
    Registration,
)
from backend.states.registrations import RegistrationStatus
from backend.subscriptions import templates
from backend.subscriptions.allowances import enqueue, subscribed


def lock_order(session: Session, order_item_id: int) -> int:
    """Take the order's row lock before a confirmation changes one of its registrations, so
    confirmations of an order's registrations follow one another: the last one sees every other
    entered (two at once would each see the other still paid, and neither would tell). The
    order's id."""
    return session.execute(
        select(PaymentOrder.id)
        .join(OrderItem, OrderItem.order_id == PaymentOrder.id)
        .where(OrderItem.id == order_item_id)
        .with_for_update(of=PaymentOrder)
    ).scalar_one()


def order_entered(session: Session, order_id: int, *, now: datetime) -> bool:
    """When every registration the order still pays for is entered, write the payer's message
    (if they allowed one); True when written. Asked after each treasury entry of the order, and
    after each refund of it: a refund can leave only entered registrations behind."""
    order = session.execute(
        select(PaymentOrder.order_no, PaymentOrder.openid).where(PaymentOrder.id == order_id)
    ).one()
    if not subscribed(session, order.openid, "tax_receipt"):
        return False
    # The registrations the order still pays for (a refunded one is no longer held).
    items = session.execute(
        select(
            OrderItem.amount_fen,
            Registration.status,
            Registration.scheme,
            Registration.period_year,
            Registration.tax_receipt_no,
            Enrollee.name,
        )
        .join(Registration, Registration.id == OrderItem.held_registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(OrderItem.order_id == order_id)
        .order_by(OrderItem.id)
    ).all()
    if not items or any(i.status != RegistrationStatus.TREASURY_ENTERED.value for i in items):
        return False
    entered_at = session.scalar(
        select(func.max(LedgerMessage.entered_at))
        .join(OrderItem, OrderItem.id == LedgerMessage.order_item_id)
        .where(OrderItem.order_id == order_id, LedgerMessage.kind == "payment")
    )
    data = templates.tax_receipt(
        names=list(dict.fromkeys(i.name for i in items)),
        paid_fen=sum(i.amount_fen for i in items),
        receipt_no=items[0].tax_receipt_no or "",
        entered_at=entered_at or now,
        schemes=[(i.scheme, i.period_year) for i in items],
    )
    return enqueue(
        session,
        openid=order.openid,
        kind="tax_receipt",
        event_key=f"order:{order.order_no}",
        data=data,
        page=templates.ORDER_PAGE.format(order_no=order.order_no),
        now=now,
    )


def refund_succeeded(session: Session, refund_id: int, *, now: datetime) -> bool:
    """After a refund succeeded: the payer's message (if they allowed one). True when written."""
    row = session.execute(
        select(
            Refund.refund_no,
            Refund.amount_fen,
            Refund.succeeded_at,
            PaymentOrder.order_no,
            PaymentOrder.openid,
            OrderItem.scheme,
            OrderItem.period_year,
            Enrollee.name,
        )
        .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
        .join(OrderItem, OrderItem.id == Refund.order_item_id)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(Refund.id == refund_id)
    ).one()
    if not subscribed(session, row.openid, "refund"):
        return False
    data = templates.refund(
        name=row.name,
        amount_fen=row.amount_fen,
        refund_no=row.refund_no,
        refunded_at=row.succeeded_at or now,
        scheme=row.scheme,
        year=row.period_year,
    )
    return enqueue(
        session,
        openid=row.openid,
        kind="refund",
        event_key=f"refund:{row.refund_no}",
        data=data,
        page=templates.ORDER_PAGE.format(order_no=row.order_no),
        now=now,
    )
