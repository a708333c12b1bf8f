"""Delivering the outbox to the bureau: claim due messages, send, record, back off, dead-letter.

A claim pushes a message's next_attempt_at forward by a lease, in its own short transaction
(FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises claims), so two
workers never hold the same message. The send happens outside any transaction. A worker killed
mid-send leaves the message pending; when the lease ends another claim sends it again with the
same message_id, which the bureau treats as the same message: delivered exactly once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from backend.infra.clock import Clock
from backend.infra.uow import UnitOfWork
from backend.ledger.port import LedgerError, TaxLedger
from backend.models import (
    Enrollee,
    GovernmentBatch,
    GovernmentBatchItem,
    LedgerAttempt,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    Refund,
    Registration,
)
from backend.orders.channels import GOVERNMENT, order_channel
from backend.states.ledger import MessageStatus
from backend.states.transitions import LEDGER_MESSAGES

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)  # well above the client's timeout


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"delivered {self.delivered}, failed {self.failed}, dead {self.dead}"


@dataclass(frozen=True)
class Claimed:
    id: int
    message_id: str
    kind: str
    attempts: int
    payload: dict[str, Any]


def deliver_due(
    uow: UnitOfWork,
    ledger: TaxLedger,
    *,
    clock: Clock,
    schedule: Sequence[int],
    worker: str,
    limit: int = 50,
    lease: timedelta = DEFAULT_LEASE,
) -> DeliveryReport:
    """One round: claim up to `limit` due messages and try each once."""
    report = DeliveryReport()
    with uow as session:
        claimed = claim_due(session, now=clock.now(), limit=limit, lease=lease)
    for message in claimed:
        started = time.monotonic()
        try:
            ledger_ref, status = ledger.send(message.kind, message.payload)  # type: ignore[arg-type]
        except LedgerError as exc:
            _record_failure(uow, message, exc, clock.now(), schedule, worker, started, report)
            continue
        _record_delivery(uow, message, ledger_ref, status, clock.now(), worker, started)
        report.delivered += 1
    return report


_original = aliased(LedgerMessage)
_payment_delivered = (
    select(_original.id)
    .where(
        _original.order_item_id == LedgerMessage.order_item_id,
        _original.kind == "payment",
        _original.status == MessageStatus.DELIVERED.value,
    )
    .exists()
)


def claim_due(
    session: Session, *, now: datetime, limit: int, lease: timedelta = DEFAULT_LEASE
) -> list[Claimed]:
    rows = session.scalars(
        select(LedgerMessage)
        .where(
            LedgerMessage.status == MessageStatus.PENDING.value,
            LedgerMessage.next_attempt_at <= now,
            # A reversal waits until the bureau has the payment it undoes.
            or_(LedgerMessage.kind == "payment", _payment_delivered),
        )
        .order_by(LedgerMessage.next_attempt_at, LedgerMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for message in rows:
        if message.payload is None:
            message.payload = _payload(session, message)
        message.attempts += 1
        message.next_attempt_at = now + lease
        claimed.append(
            Claimed(message.id, message.message_id, message.kind, message.attempts, message.payload)
        )
    return claimed


def _payload(session: Session, message: LedgerMessage) -> dict[str, Any]:
    """The body design.md section 8 names, fixed at the first attempt."""
    if message.government_item_id is not None:
        return _government_payload(session, message)
    item, registration, person, order = session.execute(
        select(OrderItem, Registration, Enrollee, PaymentOrder)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .join(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
        .where(OrderItem.id == message.order_item_id)
    ).one()
    body = {
        "message_id": message.message_id,
        "collection_no": registration.collection_no,
        "id_number": person.id_number,
        "name": person.name,
        "scheme": registration.scheme,
        "period_year": registration.period_year,
        "amount_fen": item.amount_fen,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "channel": order_channel(order.channel, order.trade_type),
        "order_no": order.order_no,
        "transaction_id": order.transaction_id,
    }
    if message.kind == "reversal":
        body.update(_reversal(session, message))
    return body


def _government_payload(session: Session, message: LedgerMessage) -> dict[str, Any]:
    """A registration a government batch paid: finance is the payer, the batch stands for the
    order, and no WeChat transaction exists."""
    item, registration, person, batch = session.execute(
        select(GovernmentBatchItem, Registration, Enrollee, GovernmentBatch)
        .join(Registration, Registration.id == GovernmentBatchItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .join(GovernmentBatch, GovernmentBatch.id == GovernmentBatchItem.batch_id)
        .where(GovernmentBatchItem.id == message.government_item_id)
    ).one()
    return {
        "message_id": message.message_id,
        "collection_no": registration.collection_no,
        "id_number": person.id_number,
        "name": person.name,
        "scheme": registration.scheme,
        "period_year": registration.period_year,
        "amount_fen": item.gov_paid_fen,
        "paid_at": batch.confirmed_at.isoformat() if batch.confirmed_at else None,
        "channel": GOVERNMENT,
        "payer": "finance",
        "order_no": batch.batch_no,
        "transaction_id": None,
    }


def _reversal(session: Session, message: LedgerMessage) -> dict[str, Any]:
    """A reversal names the payment message it undoes (part of, for a partial refund)."""
    refund = session.get(Refund, message.refund_id)
    original_id, original_ref = session.execute(
        select(LedgerMessage.message_id, LedgerMessage.ledger_ref).where(
            LedgerMessage.order_item_id == message.order_item_id,
            LedgerMessage.kind == "payment",
        )
    ).one()
    assert refund is not None  # a reversal is written with its refund
    return {
        "original_message_id": original_id,
        "ledger_ref": original_ref,
        "amount_fen": refund.amount_fen,
        "refund_no": refund.refund_no,
        "refunded_at": refund.succeeded_at.isoformat() if refund.succeeded_at else None,
        "reason": refund.reason,
    }


def _record_delivery(uow, message: Claimed, ledger_ref, status, now, worker, started) -> None:
    with uow as session:
        LEDGER_MESSAGES.apply(
            session,
            "deliver",
            LedgerMessage.id == message.id,
            values={
                "ledger_ref": ledger_ref,
                "delivered_at": now,
                "last_error": None,
                "updated_at": now,
            },
        )
        session.add(_attempt(message, now, worker, started, status, "delivered", None))


def _record_failure(uow, message, exc, now, schedule, worker, started, report) -> None:
    dead = message.attempts > len(schedule)
    values: dict[str, Any] = {"last_error": str(exc)[:255], "updated_at": now}
    report.errors.append(str(exc))
    with uow as session:
        if dead:
            LEDGER_MESSAGES.apply(session, "bury", LedgerMessage.id == message.id, values=values)
            report.dead += 1
            log.error(
                "ledger message %s is dead after %d attempts: %s",
                message.message_id,
                message.attempts,
                exc,
            )
        else:
            session.execute(
                update(LedgerMessage)
                .where(
                    LedgerMessage.id == message.id,
                    LedgerMessage.status == MessageStatus.PENDING.value,
                )
                .values(
                    next_attempt_at=now + timedelta(seconds=schedule[message.attempts - 1]),
                    **values,
                )
            )
            report.failed += 1
            log.warning(
                "ledger message %s attempt %d failed: %s",
                message.message_id,
                message.attempts,
                exc,
            )
        outcome = "dead" if dead else "failed"
        session.add(_attempt(message, now, worker, started, exc.http_status, outcome, str(exc)))


def _attempt(message: Claimed, now, worker, started, status, outcome, error) -> LedgerAttempt:
    return LedgerAttempt(
        message_id=message.id,
        attempted_at=now,
        worker=worker,
        http_status=status,
        outcome=outcome,
        error=error[:255] if error else None,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
