"""Our side of a day, as matching needs it: payments credited (or marked for refund) and refunds
that succeeded on a Beijing day. No ORM objects (a day can hold a million payments): on
PostgreSQL the payments come as one COPY read straight into a table; elsewhere (SQLite in tests)
as plain rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import PaymentOrder, Refund
from backend.orders.channels import ALL_CHANNELS
from backend.progress.journal import channel_of
from backend.recon.matching import PAYMENT_SCHEMA, OurPayments, OurRefund
from backend.states.orders import MONEY_TAKEN
from backend.states.refunds import RefundStatus
from backend.values.beijing import day_bounds

TAKEN = tuple(sorted(status.value for status in MONEY_TAKEN))

# The same rows as day_payments' select, for COPY (psycopg binds the values client-side).
_COPY_PAYMENTS = f"""
COPY (
    SELECT order_no, transaction_id, paid_fen, status
    FROM payment_order
    WHERE paid_at >= %(start)s AND paid_at < %(end)s
      AND status IN ({", ".join(f"'{status}'" for status in TAKEN)})
      AND (billed_on IS NULL OR billed_on = %(day)s)
) TO STDOUT WITH (FORMAT csv, NULL '\\N')
"""


def day_payments(session: Session, day: date) -> OurPayments:
    """Payments of ours whose money was taken on `day` (by paid_at, Beijing), keyed by order_no;
    one WeChat billed on a neighbouring day (billed_on) is left to that day."""
    start, end = day_bounds(day)
    if session.get_bind().dialect.name == "postgresql":
        frame = _copied_payments(session, day)
    else:
        query = select(
            PaymentOrder.order_no,
            PaymentOrder.transaction_id,
            PaymentOrder.paid_fen,
            PaymentOrder.status,
        ).where(
            PaymentOrder.paid_at >= start,
            PaymentOrder.paid_at < end,
            PaymentOrder.status.in_(TAKEN),
            (PaymentOrder.billed_on.is_(None)) | (PaymentOrder.billed_on == day),
        )
        frame = pl.DataFrame(
            [tuple(row) for row in session.execute(query)],
            schema={name: PAYMENT_SCHEMA[name] for name in _COPIED},
            orient="row",
        )
    return OurPayments(frame.with_columns(paid_on=pl.lit(day, pl.Date)))


_COPIED = ("order_no", "transaction_id", "paid_fen", "status")


def _copied_payments(session: Session, day: date) -> pl.DataFrame:
    start, end = day_bounds(day)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    data = bytearray()
    params = {"start": start, "end": end, "day": day}
    with raw.cursor() as cursor, cursor.copy(_COPY_PAYMENTS, params) as copy:
        for chunk in copy:  # a row each
            data += chunk
    if not data:
        return pl.DataFrame(schema={name: PAYMENT_SCHEMA[name] for name in _COPIED})
    return pl.read_csv(
        bytes(data),
        has_header=False,
        new_columns=list(_COPIED),
        schema_overrides={name: PAYMENT_SCHEMA[name] for name in _COPIED},
        null_values="\\N",
    )


def day_refunds(session: Session, day: date) -> dict[str, OurRefund]:
    start, end = day_bounds(day)
    query = (
        select(Refund.refund_no, PaymentOrder.order_no, Refund.amount_fen)
        .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
        .where(
            Refund.status == RefundStatus.SUCCEEDED.value,
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
        )
    )
    return {
        refund_no: OurRefund(refund_no, order_no, amount_fen)
        for refund_no, order_no, amount_fen in session.execute(query)
    }


@dataclass(frozen=True)
class ChannelDay:
    """Our side of a day for one channel: WeChat money taken and given back."""

    channel: str
    payments: int
    paid_fen: int
    refunds: int
    refund_fen: int


def day_by_channel(session: Session, day: date, *, scope_prefix: str) -> list[ChannelDay]:
    """The day's payments and refunds (as reconciliation counts them) by collection channel
    (mini-program, village QR, school), of the orders filed under the region `scope_prefix`
    names; in ALL_CHANNELS' order."""
    start, end = day_bounds(day)
    orders = PaymentOrder.__table__
    channel = channel_of(orders).label("channel")
    in_scope = orders.c.county_code.startswith(scope_prefix, autoescape=True)
    paid = session.execute(
        select(channel, func.count(), func.coalesce(func.sum(orders.c.paid_fen), 0))
        .where(
            orders.c.paid_at >= start,
            orders.c.paid_at < end,
            orders.c.status.in_(TAKEN),
            (orders.c.billed_on.is_(None)) | (orders.c.billed_on == day),
            in_scope,
        )
        .group_by(channel)
    ).all()
    given_back = session.execute(
        select(channel, func.count(), func.coalesce(func.sum(Refund.amount_fen), 0))
        .select_from(Refund.__table__.join(orders, orders.c.id == Refund.order_id))
        .where(
            Refund.status == RefundStatus.SUCCEEDED.value,
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
            in_scope,
        )
        .group_by(channel)
    ).all()
    payments = {name: (n, fen) for name, n, fen in paid}
    refunds = {name: (n, fen) for name, n, fen in given_back}
    return [
        ChannelDay(name, *payments.get(name, (0, 0)), *refunds.get(name, (0, 0)))
        for name in ALL_CHANNELS
        if name in payments or name in refunds
    ]
