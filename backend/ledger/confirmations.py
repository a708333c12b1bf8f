"""Treasury-entry confirmations from the bureau: the registration moves paid -> treasury_entered."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.infra import audit
from backend.models import LedgerMessage, OrderItem, Registration

log = logging.getLogger(__name__)


class ConfirmationRejected(Exception):
    """Unknown message, another ledger_ref, or a second receipt number for one message."""

    status = 422


class ConfirmationConflict(ConfirmationRejected):
    status = 409


@dataclass(frozen=True)
class Confirmation:
    ledger_ref: str
    message_id: str
    tax_receipt_no: str
    entered_at: datetime


def confirm(session: Session, entry: Confirmation, *, now: datetime) -> bool:
    """Record it; True when it changed something, False when it was already recorded."""
    message = session.scalar(
        select(LedgerMessage).where(LedgerMessage.message_id == entry.message_id).with_for_update()
    )
    if message is None or message.kind != "payment":
        session.rollback()
        raise ConfirmationRejected(f"no payment message {entry.message_id}")
    # The bureau may confirm before our worker has recorded its answer; its ref is then new to us.
    if message.ledger_ref not in (None, entry.ledger_ref):
        session.rollback()
        raise ConfirmationRejected(f"message {entry.message_id} has another ledger_ref")
    if message.tax_receipt_no is not None:
        session.rollback()
        if message.tax_receipt_no == entry.tax_receipt_no:
            return False
        raise ConfirmationConflict(f"message {entry.message_id} already has another receipt")
    message.tax_receipt_no = entry.tax_receipt_no
    message.entered_at = entry.entered_at
    message.ledger_ref = entry.ledger_ref
    session.execute(
        update(Registration)
        .where(
            Registration.id == message.registration_id,
            Registration.status == "paid",
            # Still paid by this message's payment: after a refund and a new payment, a late
            # confirmation of the old one must not enter the new one.
            select(OrderItem.id)
            .where(
                OrderItem.id == message.order_item_id,
                OrderItem.held_registration_id == message.registration_id,
            )
            .exists(),
        )
        .values(status="treasury_entered", tax_receipt_no=entry.tax_receipt_no, updated_at=now)
    )
    audit.record(
        session,
        actor="tax-bureau",
        action="ledger.treasury_entered",
        target=entry.message_id,
        detail={"ledger_ref": entry.ledger_ref, "tax_receipt_no": entry.tax_receipt_no},
    )
    session.commit()
    return True
