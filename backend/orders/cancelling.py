"""The payer cancels an unpaid order of theirs: the trade closed at the platform, the order closed
here and its registrations free at once (to be ordered again, with another grade, say).

The poller's close of an expired order (backend.orders.closing.close_trade_then_order), asked for
by the payer instead of the clock, in three scopes, none holding a transaction or a row lock
while the platform answers:

1. claim, one short transaction: the payer's order, still open, has its next look pushed on by
   the poller's lease, so no worker asks the platform about it meanwhile;
2. close the trade at the platform, outside any transaction;
3. apply: the order machine's `close` move (a guarded update), or, when the trade was paid
   meanwhile, the payment credited as the poller credits one, and the cancel refused.

Cancelling a closed order again changes nothing and succeeds; a paid one cannot be cancelled.
When the platform cannot be reached nothing changes: the order stays open, the payer may cancel
it later, and the poller still looks after it (the claim is handed back).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from backend.errors import Conflict, NotFound, Unavailable
from backend.infra.uow import UnitOfWork
from backend.models import PaymentOrder
from backend.orders.closing import close_trade_then_order
from backend.orders.poller import LEASE
from backend.payments.gateway import AlreadyPaid, GatewayError, PaymentGateway
from backend.states.orders import OrderStatus

log = logging.getLogger(__name__)

REASON = "cancelled"  # the closed order's status_reason
NO_SUCH_ORDER = "没有找到这笔订单。"
PAID = "订单已支付，无法取消。缴费成功后可在“我的缴费记录”中查看缴费凭证。"
PLATFORM_DOWN = "微信支付暂时无法连接，订单没有取消，请稍后再试。"


@dataclass(frozen=True)
class _Claim:
    id: int
    next_check_at: datetime  # the poller's next look before the claim, handed back on failure
    lease_until: datetime


def cancel_order(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    *,
    order_no: str,
    openid: str,
    now: datetime,
    lease: timedelta = LEASE,
) -> bool:
    """True when this call closed the order, False when it was closed already.

    NotFound when the order is not the payer's (the same as an unknown number); Conflict when
    it is paid (also when paid at the platform just now: then the payment is credited);
    Unavailable when the platform cannot be reached (nothing changed).
    """
    claim = _claim(uow, order_no, openid, now=now, lease=lease)
    if claim is None:
        return False
    actor = f"openid:{openid}"
    try:
        closing = close_trade_then_order(
            uow, gateway, claim.id, order_no, reason=REASON, actor=actor, now=now
        )
    except AlreadyPaid:
        # Paid, but its details could not be fetched: the poller's next look credits it.
        _hand_back(uow, claim, at=now, now=now)
        raise Conflict(PAID, reason="paid") from None
    except GatewayError as exc:
        log.warning("order %s: cancel: the payment platform could not be asked: %s", order_no, exc)
        _hand_back(uow, claim, at=claim.next_check_at, now=now)
        raise Unavailable(PLATFORM_DOWN, reason="gateway_unavailable") from None
    if closing.outcome == "closed":
        log.info("order %s cancelled by its payer", order_no)
        return True
    if closing.outcome == "paid":
        raise Conflict(PAID, reason="paid")
    # Not open any more: a notification paid it, or the poller closed it, meanwhile.
    with uow as session:
        status = session.scalar(select(PaymentOrder.status).where(PaymentOrder.id == claim.id))
    if status == OrderStatus.CLOSED:
        return False
    raise Conflict(PAID, reason="paid")


def _claim(
    uow: UnitOfWork, order_no: str, openid: str, *, now: datetime, lease: timedelta
) -> _Claim | None:
    """The payer's open order, kept from the poller for `lease`; None when already closed."""
    with uow as session:
        order = session.execute(
            select(PaymentOrder.id, PaymentOrder.status, PaymentOrder.next_check_at).where(
                PaymentOrder.order_no == order_no, PaymentOrder.openid == openid
            )
        ).first()
        if order is None:
            raise NotFound(NO_SUCH_ORDER, reason="unknown_order")
        if order.status == OrderStatus.CLOSED:
            return None
        if order.status != OrderStatus.CREATED:
            raise Conflict(PAID, reason="paid")
        until = now + lease
        claimed = session.execute(
            update(PaymentOrder)
            .where(PaymentOrder.id == order.id, PaymentOrder.status == OrderStatus.CREATED.value)
            .values(next_check_at=until, updated_at=now)
            .returning(PaymentOrder.id)
        ).first()
    if claimed is None:  # paid (or closed) between the read and the claim
        with uow as session:
            status = session.scalar(select(PaymentOrder.status).where(PaymentOrder.id == order.id))
        if status == OrderStatus.CLOSED:
            return None
        raise Conflict(PAID, reason="paid")
    return _Claim(order.id, order.next_check_at, until)


def _hand_back(uow: UnitOfWork, claim: _Claim, *, at: datetime, now: datetime) -> None:
    """The poller's next look at `at`, unless the order moved on or another claim took it."""
    with uow as session:
        session.execute(
            update(PaymentOrder)
            .where(
                PaymentOrder.id == claim.id,
                PaymentOrder.status == OrderStatus.CREATED.value,
                PaymentOrder.next_check_at == claim.lease_until,
            )
            .values(next_check_at=at, updated_at=now)
        )
