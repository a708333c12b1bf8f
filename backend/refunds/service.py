"""Refunds: asked for by staff (or by the system for duplicate payments), sent to WeChat, finished
by WeChat's refund notification or by asking (refundquery) when the notification does not come.

Each refund is written (status requested) before WeChat hears of it, under its own out_refund_no;
WeChat treats a repeat of that number as the same refund, so a crash or timeout anywhere is made
good by sending it again. Finishing a refund is one transaction: its status, the registration,
the order, the reversal message for the bureau and the audit entry move together, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.infra import audit
from backend.models import LedgerMessage, OrderItem, PaymentOrder, Refund, Registration
from backend.payments.gateway import GatewayError, PaymentGateway, RefundRequest, RefundStatus
from backend.refunds.rules import (
    ONE_AT_A_TIME,
    PLATFORM_STATES,
    PastRefund,
    RefundRefused,
    check_request,
    on_refund_succeeded,
)
from backend.states.orders import OrderStatus

log = logging.getLogger(__name__)

# When to ask WeChat about a refund it accepted but has not reported finished; then every so often.
CHECK_AFTER = timedelta(minutes=5)
RETRY_AFTER = timedelta(minutes=1)  # a refund WeChat could not take just now (SYSTEMERROR, …)
LEASE = timedelta(seconds=60)  # a worker's claim on a refund while it talks to WeChat
SYSTEM = "system:duplicate-payments"
DESCRIPTIONS = {
    "duplicate_payment": "重复缴费退款",
    "wrong_grade": "缴费档次有误退款",
    "other": "城乡居民保险费退款",
}


class RefundTargetNotFound(LookupError):
    """No such order, no such registration in it, or outside the caller's region."""


class RefundNoticeRejected(Exception):
    """A refund notification that does not fit the refund we asked for; WeChat should retry."""


@dataclass(frozen=True)
class RefundAsk:
    order_no: str
    registration_ref: str
    reason: str
    amount_fen: int | None = None  # None: all that is left
    note: str | None = None
    idempotency_key: str | None = None


def request_refund(
    session: Session,
    ask: RefundAsk,
    *,
    actor: str,
    now: datetime,
    in_scope: Callable[[str], bool] = lambda village_code: True,
) -> tuple[Refund, bool]:
    """Record the refund (requested); (refund, replayed). WeChat is told by submit()."""
    if ask.idempotency_key:
        earlier = _by_key(session, actor, ask.idempotency_key)
        if earlier is not None:
            return _replay(session, earlier, ask), True
    order = session.scalar(
        select(PaymentOrder).where(PaymentOrder.order_no == ask.order_no).with_for_update()
    )
    found = (
        session.execute(
            select(OrderItem, Registration)
            .join(Registration, Registration.id == OrderItem.registration_id)
            .where(OrderItem.order_id == order.id, Registration.ref == ask.registration_ref)
        ).first()
        if order is not None
        else None
    )
    if found is None or not in_scope(found[1].village_code):
        session.rollback()
        raise RefundTargetNotFound(ask.order_no)
    item = found[0]
    past = [
        PastRefund(amount, status)
        for amount, status in session.execute(
            select(Refund.amount_fen, Refund.status).where(Refund.order_item_id == item.id)
        )
    ]
    try:
        amount = check_request(
            order_status=OrderStatus(order.status),
            item_fen=item.amount_fen,
            past=past,
            amount_fen=ask.amount_fen,
        )
    except RefundRefused:
        session.rollback()
        raise
    # Numbered under the order's row lock: the order's n-th refund is <order_no>R<n>.
    count = session.scalar(select(func.count()).where(Refund.order_id == order.id)) or 0
    refund = Refund(
        refund_no=f"{order.order_no}R{count + 1}",
        order_id=order.id,
        order_item_id=item.id,
        amount_fen=amount,
        reason=ask.reason,
        note=ask.note,
        status="requested",
        requested_by=actor,
        idempotency_key=ask.idempotency_key,
        next_check_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(refund)
    try:
        session.flush()
    except IntegrityError:
        # Another request for this item won the race (one in progress per item), or the same
        # Idempotency-Key arrived twice at once.
        session.rollback()
        if ask.idempotency_key:
            earlier = _by_key(session, actor, ask.idempotency_key)
            if earlier is not None:
                return _replay(session, earlier, ask), True
        raise RefundRefused(ONE_AT_A_TIME) from None
    audit.record(
        session,
        actor=actor,
        action="refund.requested",
        target=refund.refund_no,
        detail={
            "order_no": order.order_no,
            "registration_ref": ask.registration_ref,
            "amount_fen": amount,
            "reason": ask.reason,
            "note": ask.note,
        },
    )
    session.commit()
    log.info("refund %s: requested, %d fen (%s)", refund.refund_no, amount, ask.reason)
    return refund, False


def _by_key(session: Session, actor: str, key: str) -> Refund | None:
    return session.scalar(
        select(Refund).where(Refund.requested_by == actor, Refund.idempotency_key == key)
    )


def _replay(session: Session, refund: Refund, ask: RefundAsk) -> Refund:
    """The refund an earlier request with this key made, if this request is the same one."""
    order_no, ref = session.execute(
        select(PaymentOrder.order_no, Registration.ref)
        .join(OrderItem, OrderItem.order_id == PaymentOrder.id)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .where(OrderItem.id == refund.order_item_id)
    ).one()
    same = (
        order_no == ask.order_no
        and ref == ask.registration_ref
        and refund.reason == ask.reason
        and ask.amount_fen in (None, refund.amount_fen)
    )
    if not same:
        session.rollback()
        raise RefundRefused("这个 Idempotency-Key 已用于另一笔退款申请。", 422)
    return refund


def submit(
    session: Session,
    gateway: PaymentGateway,
    refund_no: str,
    *,
    now: datetime,
    check_after: timedelta = CHECK_AFTER,
) -> str:
    """Send a requested refund to WeChat; its status afterwards. Safe to repeat."""
    refund, order = _load(session, refund_no)
    if refund.status != "requested":
        session.rollback()
        return refund.status
    request = RefundRequest(
        out_trade_no=order.order_no,
        out_refund_no=refund.refund_no,
        total_fen=order.paid_fen or order.total_fen,
        refund_fen=refund.amount_fen,
        reason=DESCRIPTIONS[refund.reason],
    )
    session.rollback()  # no transaction held open while WeChat answers
    try:
        accepted = gateway.refund(request)
    except GatewayError as exc:
        retry_at = now + min(RETRY_AFTER, check_after)
        return _submit_failed(session, refund_no, exc, now=now, retry_at=retry_at)
    moved = session.execute(
        update(Refund)
        .where(Refund.refund_no == refund_no, Refund.status == "requested")
        .values(
            status="processing",
            refund_id=accepted.refund_id,
            attempts=Refund.attempts + 1,
            last_error=None,
            next_check_at=now + check_after,
            updated_at=now,
        )
    ).rowcount
    session.commit()
    if moved:
        log.info("refund %s: accepted by WeChat", refund_no)
    return "processing"


def _submit_failed(
    session: Session, refund_no: str, exc: GatewayError, *, now: datetime, retry_at: datetime
) -> str:
    if exc.retryable:
        session.execute(
            update(Refund)
            .where(Refund.refund_no == refund_no, Refund.status == "requested")
            .values(
                attempts=Refund.attempts + 1,
                last_error=str(exc)[:255],
                next_check_at=retry_at,
                updated_at=now,
            )
        )
        session.commit()
        log.warning("refund %s: WeChat could not take it yet (%s); will retry", refund_no, exc)
        return "requested"
    refund, _ = _load(session, refund_no)
    if refund.status == "requested":
        refund.status = "failed"
        refund.attempts += 1
        refund.last_error = str(exc)[:255]
        refund.updated_at = now
        audit.record(
            session,
            actor="wechat",
            action="refund.refused",
            target=refund_no,
            detail={"error": str(exc), "code": exc.code},
        )
    session.commit()
    log.error("refund %s: WeChat refused it: %s", refund_no, exc)
    return "failed"


def record_result(session: Session, result: RefundStatus, *, actor: str, now: datetime) -> str:
    """Record what WeChat reports of a refund (notification or query); the refund's status after.

    Finishing happens once: a refund already succeeded or failed is answered as it stands.
    """
    refund, order = _load(session, result.out_refund_no, lock=True)
    if result.out_trade_no not in (None, order.order_no) or result.refund_fen != refund.amount_fen:
        session.rollback()
        raise RefundNoticeRejected(
            f"refund {refund.refund_no}: WeChat reports {result.refund_fen} fen for "
            f"{result.out_trade_no}, we asked {refund.amount_fen} fen for {order.order_no}"
        )
    state = PLATFORM_STATES.get(result.state)
    if state is None:
        session.rollback()
        raise RefundNoticeRejected(f"refund {refund.refund_no}: unknown state {result.state}")
    if refund.status in ("succeeded", "failed"):
        session.rollback()
        return refund.status
    if state == "processing":
        refund.status = "processing"  # accepted, though our submit may never have heard so
        refund.refund_id = refund.refund_id or result.refund_id
        refund.next_check_at = now + CHECK_AFTER
        refund.updated_at = now
        session.commit()
        return "processing"
    refund.refund_id = refund.refund_id or result.refund_id
    refund.updated_at = now
    if state == "failed":
        refund.status = "failed"
        refund.last_error = f"WeChat reports {result.state}"
        audit.record(
            session,
            actor=actor,
            action="refund.failed",
            target=refund.refund_no,
            detail={"refund_status": result.state},
        )
        session.commit()
        log.error("refund %s: %s at WeChat; the money did not go back", refund.refund_no, state)
        return "failed"
    refund.status = "succeeded"
    refund.succeeded_at = result.succeeded_at or now
    session.flush()
    _apply_success(session, refund, order, now=now)
    audit.record(
        session,
        actor=actor,
        action="refund.succeeded",
        target=refund.refund_no,
        detail={"order_no": order.order_no, "amount_fen": refund.amount_fen},
    )
    session.commit()
    log.info("refund %s: %d fen given back", refund.refund_no, refund.amount_fen)
    return "succeeded"


def _apply_success(session: Session, refund: Refund, order: PaymentOrder, *, now: datetime) -> None:
    given_back = dict(
        session.execute(
            select(Refund.order_item_id, func.sum(Refund.amount_fen))
            .where(Refund.order_id == order.id, Refund.status == "succeeded")
            .group_by(Refund.order_item_id)
        ).all()
    )
    item = next(i for i in order.items if i.id == refund.order_item_id)
    effects = on_refund_succeeded(
        order_status=OrderStatus(order.status),
        item_fen=item.amount_fen,
        item_refunded_fen=given_back.get(item.id, 0),
        order_fully_refunded=all(given_back.get(i.id, 0) >= i.amount_fen for i in order.items),
    )
    if effects.release_registration:
        item.held_registration_id = None
        session.execute(
            update(Registration)
            .where(
                Registration.id == item.registration_id,
                Registration.status.in_(("paid", "treasury_entered")),
            )
            .values(status="unpaid", tax_receipt_no=None, updated_at=now)
        )
    if effects.reversal:
        session.add(
            LedgerMessage(
                message_id=f"rev-{refund.id}",
                kind="reversal",
                registration_id=item.registration_id,
                order_item_id=item.id,
                refund_id=refund.id,
                status="pending",
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    if effects.order_refunded:
        order.status = OrderStatus.REFUNDED.value
        order.updated_at = now


def _load(session: Session, refund_no: str, *, lock: bool = False) -> tuple[Refund, PaymentOrder]:
    query = select(Refund).where(Refund.refund_no == refund_no)
    refund = session.scalar(query.with_for_update() if lock else query)
    if refund is None:
        session.rollback()
        raise LookupError(refund_no)
    order_query = select(PaymentOrder).where(PaymentOrder.id == refund.order_id)
    order = session.scalar(order_query.with_for_update() if lock else order_query)
    assert order is not None  # a foreign key
    return refund, order


# -- the worker's part -------------------------------------------------------------------------


@dataclass
class RefundRound:
    asked: list[str] = field(default_factory=list)  # duplicate payments given a refund
    submitted: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.asked or self.submitted or self.finished or self.failed)

    def __str__(self) -> str:
        return (
            f"duplicates {len(self.asked)}, sent {len(self.submitted)}, "
            f"finished {len(self.finished)}, failed {len(self.failed)}"
        )


def refund_duplicate_payments(
    session: Session, *, now: datetime, order_nos: list[str] | None = None
) -> list[str]:
    """Ask a refund for every item of every duplicate payment (refund_due) never asked before.

    `order_nos` limits it to some orders (reconciliation); None takes them all.
    """
    query = (
        select(PaymentOrder.order_no, Registration.ref)
        .join(OrderItem, OrderItem.order_id == PaymentOrder.id)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .where(
            PaymentOrder.status == OrderStatus.REFUND_DUE.value,
            # Asked once only: a refund WeChat refused or closed waits for a person, rather
            # than being asked again every round.
            ~select(Refund.id).where(Refund.order_item_id == OrderItem.id).exists(),
        )
    )
    if order_nos is not None:
        query = query.where(PaymentOrder.order_no.in_(order_nos))
    wanted = session.execute(query).all()
    session.rollback()
    asked = []
    for order_no, ref in wanted:
        try:
            refund, _ = request_refund(
                session,
                RefundAsk(order_no, ref, "duplicate_payment", note="重复缴费，系统自动退款"),
                actor=SYSTEM,
                now=now,
            )
        except (RefundRefused, RefundTargetNotFound) as exc:
            log.warning("duplicate payment %s: no refund asked: %s", order_no, exc)
            continue
        asked.append(refund.refund_no)
    return asked


def check_refunds(
    sessions: Callable[[], Session],
    gateway: PaymentGateway,
    *,
    now: datetime,
    check_after: timedelta = CHECK_AFTER,
    limit: int = 100,
) -> RefundRound:
    """One round: refund new duplicate payments, send requested refunds, ask about slow ones."""
    report = RefundRound()
    with sessions() as session:
        report.asked = refund_duplicate_payments(session, now=now)
        due = _claim_due(session, now=now, limit=limit, check_after=check_after)
    for refund_no, status in due:
        with sessions() as session:
            try:
                if status == "requested":
                    after = submit(session, gateway, refund_no, now=now, check_after=check_after)
                else:
                    reported = gateway.query_refund(refund_no)
                    after = record_result(session, reported, actor="wechat:refundquery", now=now)
            except (GatewayError, RefundNoticeRejected) as exc:
                session.rollback()
                log.warning("refund %s: check failed: %s", refund_no, exc)
                continue
        if after == "succeeded":
            report.finished.append(refund_no)
        elif after == "failed":
            report.failed.append(refund_no)
        elif status == "requested" and after == "processing":
            report.submitted.append(refund_no)
    return report


def _claim_due(
    session: Session, *, now: datetime, limit: int, check_after: timedelta
) -> list[tuple[str, str]]:
    """Refunds to send or ask about; each pushed forward by a lease so one worker takes it."""
    rows = session.scalars(
        select(Refund)
        .where(Refund.status.in_(("requested", "processing")), Refund.next_check_at <= now)
        .order_by(Refund.next_check_at, Refund.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    due = []
    for refund in rows:
        due.append((refund.refund_no, refund.status))
        refund.next_check_at = now + (LEASE if refund.status == "requested" else check_after)
    session.commit()
    return due
