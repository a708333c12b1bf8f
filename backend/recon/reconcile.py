"""Reconciling one day: the stored bill against our payments, with the automatic fix for lost
notifications (design.md section 9).

A payment the bill shows and we never credited is asked about at WeChat (orderquery) and, when
WeChat confirms it, credited exactly as a notification would have been. Payments credited on the
neighbouring day (a notification near midnight) are not discrepancies. Rerunning a day is safe:
what was fixed is matched the next time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import PaymentOrder, WeChatBill
from backend.orders import service
from backend.payments.gateway import GatewayError, PaymentGateway
from backend.recon.bill import parse
from backend.recon.matching import Discrepancy, match
from backend.recon.ours import day_payments, day_refunds

ACTOR = "reconciliation"
CREDITED = ("paid",)


class NothingToReconcile(ValueError):
    """No usable bill stored for the day (pull it first)."""


@dataclass
class ReconcileReport:
    day: date
    matched: int = 0
    open: list[Discrepancy] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # order numbers credited by the fix


def reconcile_day(
    session: Session, gateway: PaymentGateway, *, day: date, today: date, now: datetime
) -> ReconcileReport:
    bill = session.scalar(select(WeChatBill).where(WeChatBill.bill_date == day))
    if bill is None or bill.status == "invalid":
        session.rollback()
    if bill is None:
        raise NothingToReconcile(f"no bill stored for {day}: run flask pull-bill {day} first")
    if bill.status == "invalid":
        raise NothingToReconcile(f"the bill of {day} could not be read: {bill.error}")
    rows = [] if bill.status == "empty" else parse(Path(bill.path or "").read_text("utf-8")).rows()
    outcome = match(
        rows, day_payments(session, day), day=day, today=today, refunds=day_refunds(session, day)
    )
    session.rollback()  # nothing written so far; the fixes below own their transactions
    report = ReconcileReport(day=day, matched=outcome.matched)
    for found in outcome.discrepancies:
        if found.kind == "missing_in_ours" and _credited_elsewhere(session, found.order_no):
            report.matched += 1  # credited on the neighbouring day
            continue
        if found.kind == "missing_in_ours" and _credit_lost_payment(session, gateway, found, now):
            report.fixed.append(found.order_no)
            continue
        report.open.append(found)
    return report


def _credited_elsewhere(session: Session, order_no: str) -> bool:
    status = session.scalar(select(PaymentOrder.status).where(PaymentOrder.order_no == order_no))
    session.rollback()
    return status in CREDITED


def _credit_lost_payment(
    session: Session, gateway: PaymentGateway, found: Discrepancy, now: datetime
) -> bool:
    """Ask WeChat; credit what it confirms. False leaves the discrepancy open for a person."""
    try:
        trade = gateway.query(found.order_no)
    except GatewayError:
        return False
    if not trade.paid:
        return False
    try:
        decision = service.record_confirmed_trade(session, trade, actor=ACTOR, now=now)
    except GatewayError:
        return False  # paid, WeChat says, but without the details to credit it: for a person
    except LookupError:
        session.rollback()
        return False  # an out_trade_no we never issued: for a person to look at
    return decision.credit
