"""Our side of a day, as matching needs it: payments credited (or marked for refund) and refunds
that succeeded on a Beijing day, read as plain tuples (no ORM objects: a day can hold a million).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.beijing import day_bounds
from backend.models import PaymentOrder, Refund
from backend.recon.matching import OurPayment, OurRefund

MONEY_TAKEN = ("paid", "refund_due", "refunded")


def day_payments(session: Session, day: date) -> dict[str, OurPayment]:
    start, end = day_bounds(day)
    query = select(
        PaymentOrder.order_no,
        PaymentOrder.transaction_id,
        PaymentOrder.paid_fen,
        PaymentOrder.status,
        PaymentOrder.billed_on,
    ).where(
        PaymentOrder.paid_at >= start,
        PaymentOrder.paid_at < end,
        PaymentOrder.status.in_(MONEY_TAKEN),
    )
    return {
        order_no: OurPayment(order_no, transaction_id, paid_fen, status, day)
        for order_no, transaction_id, paid_fen, status, billed_on in session.execute(query)
        if billed_on is None or billed_on == day  # else: WeChat billed it on a neighbouring day
    }


def day_refunds(session: Session, day: date) -> dict[str, OurRefund]:
    start, end = day_bounds(day)
    query = (
        select(Refund.refund_no, PaymentOrder.order_no, Refund.amount_fen)
        .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
        .where(
            Refund.status == "succeeded",
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
        )
    )
    return {
        refund_no: OurRefund(refund_no, order_no, amount_fen)
        for refund_no, order_no, amount_fen in session.execute(query)
    }
