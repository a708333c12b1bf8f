"""Delivering the outbox to the bureau: claim due messages, send, record, back off, dead-letter.

A claim pushes a message's next_attempt_at forward by a lease, in its own short transaction
(FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises claims), so two
workers never hold the same message. The send happens outside any transaction. A worker killed
mid-send leaves the message pending; when the lease ends another claim sends it again with the
same message_id, which the bureau treats as the same message: delivered exactly once.

A round pushes registrations first, a batch of them in one POST /registrations (each message
answered on its own: accepted, or refused and retried like any failure), then sends payments
and reversals one by one. The bureau refuses a payment whose collection serial it was never
pushed, so a payment is not claimed before its registration has a delivered push (as a reversal
waits for its payment); pushing first lets one round deliver both.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, insert, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from backend.fees import PolicyBook
from backend.infra import id_vault
from backend.infra.clock import Clock
from backend.infra.statements import execute_compiled_many
from backend.infra.uow import UnitOfWork
from backend.ledger.port import UNKNOWN_COLLECTION_NO, LedgerError, TaxLedger
from backend.ledger.pushes import REGISTRATION, push_bodies, pushed
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
from backend.values.masking import mask_text

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)  # well above the client's timeout
PUSH_BATCH = 500  # registrations per POST /registrations


@dataclass
class DeliveryReport:
    delivered: int = 0  # messages of every kind
    failed: int = 0
    dead: int = 0
    pushed: int = 0  # of the delivered, registrations
    batches: int = 0  # POST /registrations calls the bureau answered
    more_waiting: bool = False  # a claim came back full
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        delivered = f"delivered {self.delivered}"
        if self.batches:
            registrations = "registration" if self.pushed == 1 else "registrations"
            batches = "batch" if self.batches == 1 else "batches"
            delivered += f" ({self.pushed} {registrations} in {self.batches} {batches})"
        return f"{delivered}, failed {self.failed}, dead {self.dead}"


@dataclass(frozen=True)
class Claimed:
    id: int
    message_id: str
    kind: str
    attempts: int
    payload: dict[str, Any] | None  # None: a registration the fee engine cannot price (problem)
    problem: str | None = None


# What one attempt came to: (message, ledger_ref or None, error or None, HTTP status).
Outcome = tuple[Claimed, str | None, str | None, int | None]


def deliver_due(
    uow: UnitOfWork,
    ledger: TaxLedger,
    *,
    clock: Clock,
    schedule: Sequence[int],
    worker: str,
    book: PolicyBook,
    limit: int = 50,
    push_limit: int = PUSH_BATCH,
    lease: timedelta = DEFAULT_LEASE,
) -> DeliveryReport:
    """One round: push up to `push_limit` due registrations in one batch, then claim up to
    `limit` due payments and reversals and try each once."""
    report = DeliveryReport()
    pushed = push_due(
        uow,
        ledger,
        book=book,
        clock=clock,
        schedule=schedule,
        worker=worker,
        limit=push_limit,
        lease=lease,
        report=report,
    )
    with uow as session:
        claimed = claim_due(session, now=clock.now(), limit=limit, lease=lease)
    report.more_waiting = pushed >= push_limit or len(claimed) >= limit
    for message in claimed:
        started = time.monotonic()
        outcome: Outcome
        try:
            ledger_ref, status = ledger.send(message.kind, message.payload)  # type: ignore[arg-type]
            outcome = (message, ledger_ref, None, status)
        except LedgerError as exc:
            outcome = (message, None, _failure_text(message, exc), exc.http_status)
        with uow as session:
            _record(session, [outcome], clock.now(), schedule, worker, started, report)
    return report


def push_due(
    uow: UnitOfWork,
    ledger: TaxLedger,
    *,
    book: PolicyBook,
    clock: Clock,
    schedule: Sequence[int],
    worker: str,
    limit: int,
    lease: timedelta,
    report: DeliveryReport,
) -> int:
    """Claim up to `limit` due registration messages and push them in one batch; how many were
    claimed. One answer per message: delivered, or failed with back-off (dead after the last)."""
    with uow as session:
        claimed = claim_pushes(session, book, now=clock.now(), limit=limit, lease=lease)
    if not claimed:
        return 0
    started = time.monotonic()
    outcomes: list[Outcome] = [(m, None, m.problem, None) for m in claimed if m.payload is None]
    batch = [m for m in claimed if m.payload is not None]
    if batch:
        batch_id = f"B{clock.now():%Y%m%d%H%M%S}{secrets.token_hex(4)}"
        try:
            answers, status = ledger.push(batch_id, [m.payload for m in batch if m.payload])
        except LedgerError as exc:
            outcomes += [(m, None, str(exc), exc.http_status) for m in batch]
        else:
            report.batches += 1
            for message in batch:
                answer = answers.get(message.message_id)
                if answer is None:
                    error = "the bureau's answer does not mention this registration"
                    outcomes.append((message, None, error, status))
                elif answer.accepted:
                    outcomes.append((message, answer.ledger_ref, None, status))
                else:
                    error = f"the bureau refused the registration: {answer.code}: {answer.reason}"
                    outcomes.append((message, None, error, status))
            log.info("pushed batch %s: %d registrations", batch_id, len(batch))
    with uow as session:
        _record(session, outcomes, clock.now(), schedule, worker, started, report)
    report.pushed += sum(1 for _, ref, _, _ in outcomes if ref is not None)
    return len(claimed)


def claim_pushes(
    session: Session, book: PolicyBook, *, now: datetime, limit: int, lease: timedelta
) -> list[Claimed]:
    """Claim due registration messages; each one's body is priced and fixed at its first
    attempt (the lot priced in one query and written with the claim), as a payment's is."""
    rows = session.execute(
        select(LedgerMessage.id, LedgerMessage.message_id, LedgerMessage.payload)
        .where(
            LedgerMessage.status == MessageStatus.PENDING.value,
            LedgerMessage.kind == REGISTRATION,
            LedgerMessage.next_attempt_at <= now,
        )
        .order_by(LedgerMessage.next_attempt_at, LedgerMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    priced = push_bodies(
        session.connection(), book, [row.id for row in rows if row.payload is None]
    )
    vault = id_vault.current()
    fixed = {
        row_id: vault.seal_ids(body) for row_id, body in priced.items() if isinstance(body, dict)
    }
    values: dict[str, Any] = {
        "attempts": LedgerMessage.attempts + 1,
        "next_attempt_at": now + lease,
    }
    if fixed:
        payload_type = LedgerMessage.__table__.c.payload.type
        values["payload"] = case(
            {row_id: literal(body, payload_type) for row_id, body in fixed.items()},
            value=LedgerMessage.id,
            else_=LedgerMessage.payload,
        )
    attempts = dict(
        session.execute(
            update(LedgerMessage)
            .where(LedgerMessage.id.in_([row.id for row in rows]))
            .values(values)
            .returning(LedgerMessage.id, LedgerMessage.attempts),
            execution_options={"synchronize_session": False},
        ).all()
    )
    claimed = []
    for row in rows:
        kept = row.payload if row.payload is not None else fixed.get(row.id)
        body = None if kept is None else vault.open_ids(kept)
        problem = None if body is not None else str(priced.get(row.id, "registration not found"))
        claimed.append(
            Claimed(row.id, row.message_id, REGISTRATION, attempts[row.id], body, problem)
        )
    return claimed


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
_push_delivered = pushed(LedgerMessage.registration_id)


def claim_due(
    session: Session, *, now: datetime, limit: int, lease: timedelta = DEFAULT_LEASE
) -> list[Claimed]:
    """Claim due payments and reversals (registrations go through claim_pushes)."""
    rows = session.scalars(
        select(LedgerMessage)
        .where(
            LedgerMessage.status == MessageStatus.PENDING.value,
            LedgerMessage.kind.in_(("payment", "reversal")),
            LedgerMessage.next_attempt_at <= now,
            or_(
                # A payment waits until the bureau has its registration (a delivered push)...
                and_(LedgerMessage.kind == "payment", _push_delivered),
                # ... and a reversal until the bureau has the payment it undoes.
                and_(LedgerMessage.kind == "reversal", _payment_delivered),
            ),
        )
        .order_by(LedgerMessage.next_attempt_at, LedgerMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    vault = id_vault.current()
    for message in rows:
        if message.payload is None:
            # Kept with the ID number sealed: the database holds none in clear.
            message.payload = vault.seal_ids(_payload(session, message))
        message.attempts += 1
        message.next_attempt_at = now + lease
        body = vault.open_ids(message.payload)
        claimed.append(
            Claimed(message.id, message.message_id, message.kind, message.attempts, body)
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


def _failure_text(message: Claimed, exc: LedgerError) -> str:
    """What the attempt and the message say went wrong, for the operator."""
    if exc.code == UNKNOWN_COLLECTION_NO:
        number = (message.payload or {}).get("collection_no")
        return (
            f"税务局不认识征集流水号 {number}（{UNKNOWN_COLLECTION_NO}：从未收到该登记的推送）。"
            f"须重新推送该登记：flask ledger push {number}，或 POST /api/staff/v1/ledger/pushes；"
            "推送送达后，本消息下次重试即可送达"
        )
    return str(exc)


_messages, _attempts = LedgerMessage.__table__, LedgerAttempt.__table__
_AT = _messages.c.updated_at.type
# One row at a time for a payment, a batch's worth at once for registrations: each statement is
# compiled once and run with every message's values (pipelined on PostgreSQL).
_DELIVER = LEDGER_MESSAGES.statement(
    "deliver",
    _messages.c.id == bindparam("b_id"),
    ledger_ref=bindparam("b_ledger_ref"),
    delivered_at=bindparam("b_now", type_=_AT),
    last_error=None,
    updated_at=bindparam("b_now", type_=_AT),
)
_BURY = LEDGER_MESSAGES.statement(
    "bury",
    _messages.c.id == bindparam("b_id"),
    last_error=bindparam("b_error"),
    updated_at=bindparam("b_now", type_=_AT),
)
# Failed but not dead: still pending, due again after the schedule's wait.
_RETRY = (
    update(_messages)
    .where(
        _messages.c.id == bindparam("b_id"),
        _messages.c.status == MessageStatus.PENDING.value,
    )
    .values(
        next_attempt_at=bindparam("b_next", type_=_AT),
        last_error=bindparam("b_error"),
        updated_at=bindparam("b_now", type_=_AT),
    )
)
_ATTEMPT = insert(_attempts).values(
    message_id=bindparam("b_id"),
    attempted_at=bindparam("b_now", type_=_AT),
    worker=bindparam("b_worker"),
    http_status=bindparam("b_status", type_=_attempts.c.http_status.type),
    outcome=bindparam("b_outcome"),
    error=bindparam("b_error"),
    duration_ms=bindparam("b_duration_ms", type_=_attempts.c.duration_ms.type),
)


def _record(
    session: Session,
    outcomes: Sequence[Outcome],
    now: datetime,
    schedule: Sequence[int],
    worker: str,
    started: float,
    report: DeliveryReport,
) -> None:
    """Write what the attempts came to: each message delivered, or failed and due again after
    the schedule's wait for its attempt number (dead after the last), and one attempt row each."""
    duration_ms = int((time.monotonic() - started) * 1000)
    rows: dict[str, list[dict[str, Any]]] = {"delivered": [], "failed": [], "dead": []}
    failures: dict[str, int] = defaultdict(int)
    for message, ledger_ref, error, status in outcomes:
        error = mask_text(error)[:255] if error else None  # no ID number an answer quotes
        values = {"b_id": message.id, "b_now": now, "b_error": error}
        if ledger_ref is not None:
            outcome = "delivered"
            values["b_ledger_ref"] = ledger_ref
        elif message.attempts > len(schedule):
            outcome = "dead"
        else:
            outcome = "failed"
            values["b_next"] = now + timedelta(seconds=schedule[message.attempts - 1])
        rows[outcome].append(values)
        values.update(
            b_worker=worker, b_status=status, b_outcome=outcome, b_duration_ms=duration_ms
        )
        if error is not None:
            failures[f"{outcome} (attempt {message.attempts}): {error}"] += 1
            report.errors.append(error)
    connection = session.connection()
    for outcome, statement in (("delivered", _DELIVER), ("dead", _BURY), ("failed", _RETRY)):
        if rows[outcome]:
            execute_compiled_many(connection, statement, rows[outcome])
    execute_compiled_many(connection, _ATTEMPT, [v for found in rows.values() for v in found])
    report.delivered += len(rows["delivered"])
    report.failed += len(rows["failed"])
    report.dead += len(rows["dead"])
    for failure, count in failures.items():
        level = logging.ERROR if failure.startswith("dead") else logging.WARNING
        log.log(level, "%d ledger message(s) %s", count, failure)
