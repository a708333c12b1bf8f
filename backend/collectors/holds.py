"""What the rest of the system asks about a collector batch's holds.

A registration a collecting unit has recorded is pending, as one in an open WeChat order is; the
order path asks here which of the two it is, to tell the resident why.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.models import CollectorBatchItem, OrderItem

COLLECTING = (
    "所选参保登记正在由村（社区）代征单位收缴，不能在微信缴费；如有疑问请联系村（社区）干部。"
)


def held_by_collectors(session: Session, registration_ids: Iterable[int]) -> set[int]:
    """Those of the registrations a collector batch holds."""
    ids = list(registration_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(CollectorBatchItem.held_registration_id).where(
                CollectorBatchItem.held_registration_id.in_(ids)
            )
        )
    )


def drop_holds_collectors_have(session: Session, order_id: int) -> None:
    """An order written a moment after a collector recorded one of its registrations names it
    as held without having moved it (the guarded hold found it pending): drop that claim, so
    that closing the order frees only what it took."""
    session.execute(
        update(OrderItem)
        .where(
            OrderItem.order_id == order_id,
            OrderItem.held_registration_id.in_(
                select(CollectorBatchItem.held_registration_id).where(
                    CollectorBatchItem.held_registration_id.is_not(None)
                )
            ),
        )
        .values(held_registration_id=None),
        execution_options={"synchronize_session": False},
    )
