"""Closing an open order: created -> closed, its registrations free again. Inside the caller's
transaction (the poller's, or order creation's when the platform refused the trade)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.infra.audit import Note
from backend.models import OrderItem, PaymentOrder, Registration
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
