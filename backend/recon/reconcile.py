"""Reconciling one day: the stored bill against our payments and refunds, the automatic fixes,
and the discrepancies kept for people (design.md section 9).

Automatic fixes:
- missing_in_ours: the platform took money we never credited (a lost notification). It is asked
  (orderquery) and what it confirms is credited exactly as a notification would have been.
- duplicate_payment: a second payment for registrations another order paid. It is refunded.
- missing_in_bill: held for HOLD_DAYS (a payment near midnight can land in the next day's bill;
  when that bill is reconciled, the payment is marked billed there and this one clears).
Everything else waits for a person (backend.recon.discrepancies: list, resolve with a reason).

Each discrepancy is one row per (day, kind, order, refund). Rerunning a day is safe and shows the
same result: fixed and resolved rows stay as they are, open and held ones are found again (or,
when gone, cleared), and the fixes themselves are idempotent. The platform is only ever asked
between transactions: reading the day, each fix, and keeping the result are blocks of their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.errors import Conflict, NotFound
from backend.infra.uow import UnitOfWork
from backend.models import PaymentOrder, ReconDiscrepancy, Refund, WeChatBill
from backend.orders.crediting import record_confirmed_trade
from backend.payments.gateway import GatewayError, PaymentGateway
from backend.recon.matching import Discrepancy, match
from backend.recon.our_records import day_payments, day_refunds
from backend.refunds.service import CHECK_AFTER, refund_duplicate_payments, submit
from backend.states.orders import MONEY_TAKEN, OrderStatus
from backend.states.refunds import RefundStatus

log = logging.getLogger(__name__)

ACTOR = "reconciliation"
# Kept as they are when a day is run again: someone (or a fix) dealt with them.
SETTLED = ("fixed", "resolved")


class NothingToReconcile(Conflict):
    """No usable bill stored for the day (pull it first), or it could not be read."""


@dataclass
class ReconcileReport:
    day: date
    matched: int = 0
    discrepancies: list[ReconDiscrepancy] = field(default_factory=list)  # the day's, every status

    def having(self, *statuses: str) -> list[ReconDiscrepancy]:
        return [d for d in self.discrepancies if d.status in statuses]

    @property
    def open(self) -> list[ReconDiscrepancy]:
        return self.having("open", "held")

    @property
    def fixed(self) -> list[ReconDiscrepancy]:
        return self.having("fixed")


@dataclass
class _Verdict:
    status: str  # open | held | fixed
    fix: str | None = None


def reconcile_day(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    *,
    day: date,
    today: date,
    now: datetime,
    refund_check_after: timedelta = CHECK_AFTER,
) -> ReconcileReport:
    with uow as session:
        path = _bill_path(session, day)
        ours, refunds = day_payments(session, day), day_refunds(session, day)
    bill = [] if path is None else gateway.read_bill(path)
    outcome = match(bill, ours, day=day, today=today, refunds=refunds)
    report = ReconcileReport(day=day, matched=outcome.matched)
    found: dict[tuple[str, str, str], tuple[Discrepancy, _Verdict]] = {}
    for discrepancy in outcome.discrepancies:
        if discrepancy.kind == "missing_in_ours" and _billed_here(uow, discrepancy, day, now):
            report.matched += 1  # credited on the neighbouring day
            continue
        verdict = _fix(uow, gateway, discrepancy, now=now, check_after=refund_check_after)
        found[(discrepancy.kind, discrepancy.order_no, discrepancy.refund_no)] = (
            discrepancy,
            verdict,
        )
    with uow as session:
        report.discrepancies = _record(session, day, found, now=now)
    return report


def _bill_path(session: Session, day: date) -> Path | None:
    """The day's stored bill file; None for a day the platform had no bill (empty)."""
    bill = session.scalar(select(WeChatBill).where(WeChatBill.bill_date == day))
    if bill is None:
        raise NothingToReconcile(
            f"{day} 的对账单尚未下载：请先下载（flask pull-bill {day}）再对账。", reason="no_bill"
        )
    if bill.status == "invalid":
        raise NothingToReconcile(
            f"{day} 的对账单无法使用：{bill.error}（文件已保留，可重新下载）。",
            reason="bill_invalid",
        )
    return None if bill.status == "empty" else Path(bill.path or "")


# -- the fixes ---------------------------------------------------------------------------------


def _fix(
    uow: UnitOfWork, gateway: PaymentGateway, found: Discrepancy, *, now: datetime, check_after
) -> _Verdict:
    if found.kind == "missing_in_bill":
        return _Verdict("held" if found.held else "open")
    if found.kind == "missing_in_ours":
        return _credit_lost_payment(uow, gateway, found, now=now, check_after=check_after)
    if found.kind == "duplicate_payment":
        return _refund_duplicate(uow, gateway, found.order_no, now=now, check_after=check_after)
    return _Verdict("open")


def _credit_lost_payment(
    uow: UnitOfWork, gateway: PaymentGateway, found: Discrepancy, *, now: datetime, check_after
) -> _Verdict:
    """Ask the platform; credit what it confirms. Anything uncertain is left for a person."""
    try:
        trade = gateway.query(found.order_no)
    except GatewayError as exc:
        return _Verdict("open", f"orderquery failed: {exc}"[:255])
    if not trade.paid:
        return _Verdict("open", f"the platform says {trade.state}")
    try:
        decision = record_confirmed_trade(uow, trade, actor=ACTOR, now=now)
    except GatewayError:
        return _Verdict("open", "the platform says paid, without the payment's details")
    except NotFound:
        return _Verdict("open", "an order number we never issued")
    if decision.target is OrderStatus.REFUND_DUE:  # a late duplicate: credited elsewhere
        return _refund_duplicate(uow, gateway, found.order_no, now=now, check_after=check_after)
    if decision.credit:
        return _Verdict("fixed", "credited after the platform confirmed it (orderquery)")
    return _Verdict("open", f"not credited: {decision.reason}")


def _refund_duplicate(
    uow: UnitOfWork, gateway: PaymentGateway, order_no: str, *, now: datetime, check_after
) -> _Verdict:
    refund_duplicate_payments(uow, now=now, order_nos=[order_no])
    with uow as session:
        asked = session.scalars(
            select(Refund.refund_no)
            .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
            .where(PaymentOrder.order_no == order_no, Refund.status != RefundStatus.FAILED.value)
            .order_by(Refund.id)
        ).all()
    if not asked:
        return _Verdict("open", "duplicate payment: no refund could be asked")
    for refund_no in asked:
        try:
            submit(uow, gateway, refund_no, now=now, check_after=check_after)
        except GatewayError as exc:  # recorded; the worker sends it again
            log.warning("refund %s: not sent now (%s); the worker sends it again", refund_no, exc)
    return _Verdict("fixed", f"refunded as a duplicate payment: {', '.join(asked)}")


def _billed_here(uow: UnitOfWork, found: Discrepancy, day: date, now: datetime) -> bool:
    """A payment we credited on another day that the platform billed on this one (near
    midnight): note where it was billed, and clear that day's missing_in_bill."""
    with uow as session:
        order = session.execute(
            select(PaymentOrder.id, PaymentOrder.status).where(
                PaymentOrder.order_no == found.order_no
            )
        ).first()
        if order is None or OrderStatus(order.status) not in MONEY_TAKEN:
            return False
        session.execute(
            update(PaymentOrder).where(PaymentOrder.id == order.id).values(billed_on=day)
        )
        session.execute(
            update(ReconDiscrepancy)
            .where(
                ReconDiscrepancy.order_no == found.order_no,
                ReconDiscrepancy.kind == "missing_in_bill",
                ReconDiscrepancy.status.in_(("open", "held")),
            )
            .values(status="cleared", fix=f"in the bill of {day}", last_seen_at=now)
        )
        return True


# -- keeping the result ------------------------------------------------------------------------


def _record(
    session: Session,
    day: date,
    found: dict[tuple[str, str, str], tuple[Discrepancy, _Verdict]],
    *,
    now: datetime,
) -> list[ReconDiscrepancy]:
    """Write this run's findings over the day's rows, in the caller's transaction."""
    stored = {
        (row.kind, row.order_no, row.refund_no): row
        for row in session.scalars(
            select(ReconDiscrepancy).where(ReconDiscrepancy.bill_date == day).with_for_update()
        )
    }
    counties = _counties(session, {order_no for _, order_no, _ in found})
    for key, (discrepancy, verdict) in found.items():
        row = stored.get(key)
        if row is None:
            row = ReconDiscrepancy(
                bill_date=day,
                kind=discrepancy.kind,
                order_no=discrepancy.order_no,
                refund_no=discrepancy.refund_no,
                county=counties.get(discrepancy.order_no),
                first_seen_at=now,
                status=verdict.status,
            )
            session.add(row)
            stored[key] = row
        elif row.status in SETTLED and not (row.status == "fixed" and verdict.status == "open"):
            row.last_seen_at = now  # dealt with; a fix that no longer holds reopens below
            continue
        row.transaction_id = discrepancy.transaction_id
        row.ours_fen, row.bill_fen = discrepancy.ours_fen, discrepancy.bill_fen
        row.status, row.fix, row.last_seen_at = verdict.status, verdict.fix, now
    for key, row in stored.items():
        if key not in found and row.status in ("open", "held"):
            row.status, row.fix, row.last_seen_at = "cleared", "not found again", now
    return sorted(stored.values(), key=lambda r: (r.kind, r.order_no, r.refund_no))


def _counties(session: Session, order_nos: set[str]) -> dict[str, str]:
    """The county (6 digits) each order is filed under, for region-scoped staff."""
    if not order_nos:
        return {}
    rows = session.execute(
        select(PaymentOrder.order_no, PaymentOrder.county_code).where(
            PaymentOrder.order_no.in_(order_nos), PaymentOrder.county_code.is_not(None)
        )
    )
    return {order_no: county_code[:6] for order_no, county_code in rows}
