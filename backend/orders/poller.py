"""The order poller: ask the platform about orders that stay unpaid, credit lost payments, close
expired ones.

Notifications are not guaranteed, so an open order is asked about once `check_after` has passed
(and again at that interval), and closed once it expires: at the platform first (closeorder),
then here; a trade paid meanwhile is credited instead. No transaction is open, and no row locked,
while the platform answers:

1. claim: one short transaction takes due orders (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite
   has one writer at a time) and pushes their next_check_at forward by a lease, so no other
   worker asks about them meanwhile; a worker that dies leaves them due again when it ends;
2. ask the platform, outside any transaction;
3. apply: credit, close or set the next look, each a guarded update in a transaction of its own
   (an order paid by a notification meanwhile is left as it is).

An expired order is closed here even when the platform cannot be reached: its trade expired
there too (time_expire), and holding the registrations until the platform answers again would
let an outage keep people from paying. A payment that still turns up for it is handled as after
any close (credited when the registrations are still free, refunded otherwise).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from backend.infra.uow import UnitOfWork
from backend.models import PaymentOrder
from backend.orders.closing import close_order, close_trade_then_order
from backend.orders.crediting import record_confirmed_trade
from backend.payments.gateway import GatewayError, PaymentGateway, TradeStatus
from backend.states.orders import OrderStatus

log = logging.getLogger(__name__)

ACTOR = "worker:orders"
# How long a claim keeps other workers off an order: above the two platform calls' timeouts.
LEASE = timedelta(seconds=60)
RETRY_AFTER = timedelta(minutes=1)  # after the platform failed to answer


@dataclass
class PollReport:
    credited: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.credited or self.closed or self.failed)

    def __str__(self) -> str:
        return (
            f"credited {len(self.credited)}, closed {len(self.closed)}, "
            f"still open {len(self.still_open)}, failed {len(self.failed)}"
        )


@dataclass(frozen=True)
class Claimed:
    id: int
    order_no: str
    expires_at: datetime


def check_open_orders(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    *,
    now: datetime,
    check_after: timedelta,
    limit: int = 200,
    lease: timedelta = LEASE,
) -> PollReport:
    report = PollReport()
    with uow as session:
        claimed = claim_due(session, now=now, limit=limit, lease=lease)
    for order in claimed:
        try:
            _check_one(uow, gateway, order, now=now, check_after=check_after, report=report)
        except GatewayError as exc:
            log.warning(
                "order %s: the payment platform could not be asked: %s", order.order_no, exc
            )
            report.failed.append(order.order_no)
            if order.expires_at <= now:
                _close_expired(uow, order, now=now, report=report)
            else:
                _look_again(uow, order, at=now + min(RETRY_AFTER, check_after), now=now)
    return report


def claim_due(session, *, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Open orders due a look, each pushed forward by `lease` so that one worker has it."""
    rows = session.execute(
        select(PaymentOrder.id, PaymentOrder.order_no, PaymentOrder.expires_at)
        .where(
            PaymentOrder.status == OrderStatus.CREATED.value,
            PaymentOrder.next_check_at <= now,
        )
        .order_by(PaymentOrder.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        session.execute(
            update(PaymentOrder)
            .where(PaymentOrder.id.in_([row.id for row in rows]))
            .values(next_check_at=now + lease)
        )
    return [Claimed(row.id, row.order_no, row.expires_at) for row in rows]


def _check_one(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    order: Claimed,
    *,
    now: datetime,
    check_after: timedelta,
    report: PollReport,
) -> None:
    trade = gateway.query(order.order_no)
    if trade.paid:
        _credit(uow, trade, now=now, report=report)
        return
    if order.expires_at > now:
        _look_again(uow, order, at=min(now + check_after, order.expires_at), now=now)
        report.still_open.append(order.order_no)
        return
    # Paid between our query and the close: the payment wins (credited by the close).
    closing = close_trade_then_order(
        uow, gateway, order.id, order.order_no, reason="expired", actor=ACTOR, now=now
    )
    if closing.outcome == "paid":
        report.credited.append(order.order_no)
    elif closing.outcome == "closed":
        report.closed.append(order.order_no)


def _close_expired(uow: UnitOfWork, order: Claimed, *, now: datetime, report: PollReport) -> None:
    with uow as session:
        closed = close_order(session, order.id, reason="expired", actor=ACTOR, now=now)
    if closed:
        report.closed.append(order.order_no)


def _credit(uow: UnitOfWork, trade: TradeStatus, *, now: datetime, report: PollReport) -> None:
    decision = record_confirmed_trade(uow, trade, actor=ACTOR, now=now)
    log.info("order %s: payment found by query (%s)", trade.order_no, decision.reason)
    report.credited.append(trade.order_no)


def _look_again(uow: UnitOfWork, order: Claimed, *, at: datetime, now: datetime) -> None:
    """The order's next look, if it is still open (a notification may have paid it meanwhile)."""
    with uow as session:
        session.execute(
            update(PaymentOrder)
            .where(PaymentOrder.id == order.id, PaymentOrder.status == OrderStatus.CREATED.value)
            .values(next_check_at=at, updated_at=now)
        )
