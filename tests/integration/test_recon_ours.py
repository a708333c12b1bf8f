"""Our side of a day for reconciliation, read from the database (one COPY on PostgreSQL, plain
rows on SQLite): the same payments either way."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from backend.models import PaymentOrder
from backend.recon.matching import OurPayment
from backend.recon.our_records import day_payments

DAY = date(2024, 3, 1)
MIDNIGHT = datetime(2024, 2, 29, 16, 0, tzinfo=UTC)  # DAY begins, Beijing time


def add_order(session, number: str, *, status="paid", paid_at=MIDNIGHT, billed_on=None, txn=True):
    session.add(
        PaymentOrder(
            order_no=number,
            openid="o-ours",
            idempotency_key=number,
            request_hash="-",
            trade_type="JSAPI",
            status=status,
            total_fen=25000,
            paid_fen=25000 if paid_at else None,
            description="城乡居民医疗保险缴费",
            client_ip="127.0.0.1",
            expires_at=MIDNIGHT,
            transaction_id=f"42{number:0>26}" if txn else None,
            paid_at=paid_at,
            billed_on=billed_on,
        )
    )


def test_the_days_payments_are_those_whose_money_was_taken_that_day(db):
    second = timedelta(seconds=1)
    add_order(db, "first")  # at Beijing midnight
    add_order(db, "last", paid_at=MIDNIGHT + timedelta(days=1) - second)
    add_order(db, "due", status="refund_due", txn=False)
    add_order(db, "refunded", status="refunded")
    add_order(db, "billed_here", billed_on=DAY)
    add_order(db, "day_before", paid_at=MIDNIGHT - second)
    add_order(db, "day_after", paid_at=MIDNIGHT + timedelta(days=1))
    add_order(db, "billed_next_day", billed_on=DAY + timedelta(days=1))
    add_order(db, "unpaid", status="created", paid_at=None)
    add_order(db, "closed", status="closed")
    db.commit()

    ours = day_payments(db, DAY)
    db.rollback()

    def paid(number, status="paid", txn=True):
        return OurPayment(number, f"42{number:0>26}" if txn else None, 25000, status, DAY)

    assert dict(ours) == {
        "first": paid("first"),
        "last": paid("last"),
        "due": paid("due", "refund_due", txn=False),
        "refunded": paid("refunded", "refunded"),
        "billed_here": paid("billed_here"),
    }
    assert ours.frame.height == 5


def test_a_day_without_payments_is_empty(db):
    assert dict(day_payments(db, DAY)) == {}
