"""The events a payer hears of, each written in the transaction of the event itself.

- The treasury entry: once every registration an order still pays for is entered, the payer
  hears of it once (one message per order, with a receipt number), not once per person.
- A refund finished: one message per refund.
(Deadline reminders are the worker's: reminders.py.)
Nothing is written for a payer without an allowance of the kind (allowances.enqueue).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Enrollee, OrderItem, PaymentOrder, Refund, Registration
from backend.states.registrations import RegistrationStatus
from backend.subscriptions import templates
from backend.subscriptions.allowances import enqueue, subscribed


def lock_order(session: Session, order_item_id: int) -> None:
    """Take the order's row lock before a confirmation changes one of its registrations, so
    confirmations of an order's registrations follow one another: the last one sees every other
    entered (two at once would each see the other still paid, and neither would tell)."""
    session.execute(
        select(PaymentOrder.id)
        .join(OrderItem, OrderItem.order_id == PaymentOrder.id)
        .where(OrderItem.id == order_item_id)
        .with_for_update(of=PaymentOrder)
    ).first()


def order_entered(
    session: Session, order_item_id: int, *, receipt_no: str, entered_at: datetime, now: datetime
) -> bool:
    """After the treasury entry of one of an order's registrations: when it was the last one,
    write the payer's message (if they allowed one). True when written."""
    order = session.execute(
        select(PaymentOrder.id, PaymentOrder.order_no, PaymentOrder.openid)
        .join(OrderItem, OrderItem.order_id == PaymentOrder.id)
        .where(OrderItem.id == order_item_id)
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
            Enrollee.name,
        )
        .join(Registration, Registration.id == OrderItem.held_registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(OrderItem.order_id == order.id)
        .order_by(OrderItem.id)
    ).all()
    if not items or any(i.status != RegistrationStatus.TREASURY_ENTERED.value for i in items):
        return False
    data = templates.tax_receipt(
        names=list(dict.fromkeys(i.name for i in items)),
        paid_fen=sum(i.amount_fen for i in items),
        receipt_no=receipt_no,
        entered_at=entered_at,
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
