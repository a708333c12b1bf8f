"""Treasury-entry confirmations from the bureau: the registration moves paid -> treasury_entered."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from backend.errors import Conflict, Refused
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import (
    GovernmentBatch,
    GovernmentBatchItem,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    Registration,
)
from backend.progress import journal
from backend.states.transitions import REGISTRATIONS
from backend.subscriptions import events as subscription_events

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Confirmation:
    ledger_ref: str
    message_id: str
    tax_receipt_no: str
    entered_at: datetime


def confirm(uow: UnitOfWork, entry: Confirmation, *, now: datetime) -> bool:
    """Record it; True when it changed something, False when it was already recorded.

    Refused for an unknown message or another ledger_ref; Conflict for a second receipt number.
    """
    with uow as session:
        message = session.scalar(
            select(LedgerMessage)
            .where(LedgerMessage.message_id == entry.message_id)
            .with_for_update()
        )
        if message is None or message.kind != "payment":
            raise Refused(f"no payment message {entry.message_id}", reason="unknown_message")
        # The bureau may confirm before our worker recorded its answer; its ref is new to us then.
        if message.ledger_ref not in (None, entry.ledger_ref):
            raise Refused(
                f"message {entry.message_id} has another ledger_ref", reason="other_ledger_ref"
            )
        if message.tax_receipt_no is not None:
            if message.tax_receipt_no == entry.tax_receipt_no:
                return False
            raise Conflict(
                f"message {entry.message_id} already has another receipt", reason="other_receipt"
            )
        message.tax_receipt_no = entry.tax_receipt_no
        message.entered_at = entry.entered_at
        message.ledger_ref = entry.ledger_ref
        message.updated_at = now
        county_query, still_paid = _payment_of(message)
        county_code = session.scalar(county_query)
        order_id = None
        if message.order_item_id is not None:
            order_id = subscription_events.lock_order(session, message.order_item_id)
        if REGISTRATIONS.apply(
            session,
            "enter",
            Registration.id == message.registration_id,
            still_paid,
            values={"tax_receipt_no": entry.tax_receipt_no, "updated_at": now},
        ):
            journal.entered(
                session, day=journal.day_of(now), registration_id=message.registration_id
            )
            if order_id is not None:  # the payer may hear of it (订阅消息)
                subscription_events.order_entered(session, order_id, now=now)
        audit.write(
            session,
            audit.Note(
                actor="tax-bureau",
                action="ledger.treasury_entered",
                target=entry.message_id,
                region_code=county_code,
                detail={"ledger_ref": entry.ledger_ref, "tax_receipt_no": entry.tax_receipt_no},
            ),
        )
        return True


def _payment_of(message: LedgerMessage):
    """The query of the county the message's payment is filed under, and the condition
    that its registration is still paid by that payment: after a refund and a new payment, a late
    confirmation of the old one must not enter the new one."""
    if message.order_item_id is not None:
        county = (
            select(PaymentOrder.county_code)
            .join(OrderItem, OrderItem.order_id == PaymentOrder.id)
            .where(OrderItem.id == message.order_item_id)
        )
        still_paid = (
            select(OrderItem.id)
            .where(
                OrderItem.id == message.order_item_id,
                OrderItem.held_registration_id == message.registration_id,
            )
            .exists()
        )
        return county, still_paid
    county = (
        select(GovernmentBatch.county_code)
        .join(GovernmentBatchItem, GovernmentBatchItem.batch_id == GovernmentBatch.id)
        .where(GovernmentBatchItem.id == message.government_item_id)
    )
    still_paid = (
        select(GovernmentBatchItem.id)
        .where(
            GovernmentBatchItem.id == message.government_item_id,
            GovernmentBatchItem.credited_registration_id == message.registration_id,
        )
        .exists()
    )
    return county, still_paid
