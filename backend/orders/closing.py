"""Closing an open order: created -> closed, its registrations free again.

`close_order` works inside the caller's transaction (the poller's, or order creation's when the
platform refused the trade). `close_trade_then_order` is the whole close of a live trade, shared
by the poller (an expired order) and the payer's cancel: the trade closed at the platform first,
outside any transaction, then the order here; a trade paid meanwhile is credited instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.infra.audit import Note
from backend.infra.uow import UnitOfWork
from backend.models import OrderItem, PaymentOrder, Registration
from backend.orders.crediting import record_confirmed_trade
from backend.payments.gateway import AlreadyPaid, GatewayError, PaymentGateway
from backend.states.orders import PaymentDecision
from backend.states.transitions import ORDERS, REGISTRATIONS

log = logging.getLogger(__name__)


def close_order(session: Session, order_id: int, *, reason: str, actor: str, now: datetime) -> bool:
    """False when the order was no longer open (paid or closed meanwhile): nothing changes."""
    order_no, county_code = session.execute(
        select(PaymentOrder.order_no, PaymentOrder.county_code).where(PaymentOrder.id == order_id)
    ).one()

    def release_holds(session: Session, _ids: list[int]) -> None:
        # Only what the order holds: a registration it never took (a collector batch holds it)
        # stays as its holder left it.
        REGISTRATIONS.apply(
            session,
            "release",
            Registration.id.in_(
                select(OrderItem.held_registration_id).where(
                    OrderItem.order_id == order_id, OrderItem.held_registration_id.is_not(None)
                )
            ),
            values={"updated_at": now},
        )
        session.execute(
            update(OrderItem)
            .where(OrderItem.order_id == order_id)
            .values(held_registration_id=None)
        )

    closed = ORDERS.apply(
        session,
        "close",
        PaymentOrder.id == order_id,
        values={"closed_at": now, "status_reason": reason, "updated_at": now},
        audit_note=Note(
            actor=actor,
            action="order.close",
            target=order_no,
            region_code=county_code,
            detail={"reason": reason},
        ),
        then=release_holds,
    )
    if closed:
        log.info("order %s closed (%s)", order_no, reason)
    return bool(closed)


@dataclass(frozen=True)
class Closing:
    """How closing a live trade ended: `closed` (this call closed the order), `not_open` (paid or
    closed here meanwhile: nothing changed) or `paid` (the platform says the trade was paid: the
    payment wins and was credited, `decision` says how)."""

    outcome: Literal["closed", "not_open", "paid"]
    decision: PaymentDecision | None = None


def close_trade_then_order(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    order_id: int,
    order_no: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> Closing:
    """Close the trade at the platform, then the order here, with no transaction open while
    the platform answers (the caller holds a claim on the order, not a lock).

    GatewayError when the platform cannot be reached: nothing changed here. AlreadyPaid when the
    trade was paid but its payment's details could not be fetched: nothing credited yet (the
    notification, or the poller's next look, will).
    """
    try:
        gateway.close(order_no)
    except AlreadyPaid as paid:
        try:
            trade = gateway.query(order_no)
        except GatewayError as exc:
            raise paid from exc
        decision = record_confirmed_trade(uow, trade, actor=actor, now=now)
        log.info("order %s: paid before it could be closed (%s)", order_no, decision.reason)
        return Closing("paid", decision)
    with uow as session:
        closed = close_order(session, order_id, reason=reason, actor=actor, now=now)
    return Closing("closed" if closed else "not_open")
