"""The order poller: ask WeChat about orders that stay unpaid, credit lost payments, close expired.

WeChat does not guarantee its notifications, so an unpaid order older than ORDER_CHECK_AFTER is
queried (and again at that interval); a paid answer is credited exactly as a notification would
be. An expired one is closed at WeChat first (closeorder), then here; if WeChat says it was paid
meanwhile (ORDERPAID), the payment is credited instead. Each order is one transaction; on
PostgreSQL, rows are claimed with SKIP LOCKED so several workers can share the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from backend.models import PaymentOrder
from backend.orders import service
from backend.payments.gateway import GatewayError, PaymentGateway, TradeStatus
from backend.states.orders import OrderStatus

log = logging.getLogger(__name__)

ACTOR = "worker:orders"


@dataclass
class PollReport:
    credited: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"credited {len(self.credited)}, closed {len(self.closed)}, "
            f"still open {len(self.still_open)}, failed {len(self.failed)}"
        )


def due_orders(session: Session, *, now: datetime, check_after: timedelta, limit: int) -> list[str]:
    """Open orders that have expired, or waited long enough to ask about (not asked lately)."""
    stale = now - check_after
    return list(
        session.scalars(
            select(PaymentOrder.order_no)
            .where(
                PaymentOrder.status == OrderStatus.CREATED.value,
                or_(
                    PaymentOrder.expires_at <= now,
                    (PaymentOrder.created_at <= stale)
                    & or_(PaymentOrder.checked_at.is_(None), PaymentOrder.checked_at <= stale),
                ),
            )
            .order_by(PaymentOrder.expires_at)
            .limit(limit)
        )
    )


def check_open_orders(
    sessions: Callable[[], Session],
    gateway: PaymentGateway,
    *,
    now: datetime,
    check_after: timedelta,
    limit: int = 200,
) -> PollReport:
    report = PollReport()
    with sessions() as session:
        candidates = due_orders(session, now=now, check_after=check_after, limit=limit)
    for order_no in candidates:
        with sessions() as session:
            try:
                _check_one(session, gateway, order_no, now=now, report=report)
            except GatewayError as exc:
                session.rollback()
                log.warning("order %s: WeChat Pay check failed: %s", order_no, exc)
                _mark_checked(session, order_no, now)
                report.failed.append(order_no)
    return report


def _check_one(
    session: Session, gateway: PaymentGateway, order_no: str, *, now: datetime, report: PollReport
) -> None:
    claimed = session.scalar(
        select(PaymentOrder)
        .where(
            PaymentOrder.order_no == order_no,
            PaymentOrder.status == OrderStatus.CREATED.value,
        )
        .with_for_update(skip_locked=True)
    )
    if claimed is None:
        session.rollback()  # paid, closed or claimed by another worker since the list was read
        return
    expired = claimed.expires_at <= now
    trade = gateway.query(order_no)
    if trade.paid:
        _credit(session, trade, now=now, report=report)
        return
    if not expired:
        _mark_checked(session, order_no, now)
        report.still_open.append(order_no)
        return
    try:
        gateway.close(order_no)
    except GatewayError as exc:
        if exc.code != "ORDERPAID":
            raise
        # Paid between our query and the close: the payment wins.
        _credit(session, gateway.query(order_no), now=now, report=report)
        return
    if service.close_order(session, order_no, reason="expired", actor=ACTOR, now=now):
        report.closed.append(order_no)


def _credit(session: Session, trade: TradeStatus, *, now: datetime, report: PollReport) -> None:
    decision = service.record_confirmed_trade(session, trade, actor=ACTOR, now=now)
    log.info("order %s: payment found by query (%s)", trade.out_trade_no, decision.reason)
    report.credited.append(trade.out_trade_no)


def _mark_checked(session: Session, order_no: str, now: datetime) -> None:
    session.execute(
        update(PaymentOrder).where(PaymentOrder.order_no == order_no).values(checked_at=now)
    )
    session.commit()
