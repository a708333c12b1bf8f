"""Refunds: asked for by staff (or by the system for duplicate payments), sent to the platform,
finished by its refund notification or by asking (refundquery) when none comes.

Each refund is written (requested) before the platform hears of it, under its own refund number;
the platform treats a repeat of that number as the same refund, so a crash or a timeout anywhere
is made good by sending it again. No transaction is open while the platform answers: a refund
is read in one block, sent, and its answer applied in another by the refund machine's guarded
moves. Finishing a refund is one transaction: its status, the registration, the order, the
reversal message for the bureau and the audit entry move together, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import Conflict, DomainError, NotFound
from backend.infra import audit
from backend.infra.audit import Note
from backend.infra.idempotency import replay_of, request_hash
from backend.infra.uow import UnitOfWork
from backend.models import LedgerMessage, OrderItem, PaymentOrder, Refund, Registration
from backend.payments.gateway import GatewayError, PaymentGateway, RefundRequest, RefundResult
from backend.progress import journal
from backend.refunds.rules import ONE_AT_A_TIME, PastRefund, check_request, on_refund_succeeded
from backend.states.ledger import MessageStatus
from backend.states.orders import OrderStatus
from backend.states.refunds import FINISHED, RefundStatus
from backend.states.registrations import RegistrationStatus
from backend.states.transitions import ORDERS, REFUNDS, REGISTRATIONS
from backend.subscriptions import events as subscription_events

log = logging.getLogger(__name__)

# When to ask the platform about a refund it accepted but has not reported finished; then again.
CHECK_AFTER = timedelta(minutes=5)
RETRY_AFTER = timedelta(minutes=1)  # a refund the platform could not take just now
LEASE = timedelta(seconds=60)  # a worker's claim on a refund while it talks to the platform
SYSTEM = "system:duplicate-payments"
DESCRIPTIONS = {
    "duplicate_payment": "重复缴费退款",
    "wrong_grade": "缴费档次有误退款",
    "other": "城乡居民保险费退款",
}


class UnknownRefund(NotFound):
    """No refund with this number."""


class NoticeMismatch(Conflict):
    """A refund report that does not fit the refund we asked for; the platform should retry."""


@dataclass(frozen=True)
class RefundAsk:
    order_no: str
    registration_ref: str
    reason: str
    amount_fen: int | None = None  # None: all that is left
    note: str | None = None
    idempotency_key: str | None = None

    def digest(self) -> str:
        return request_hash(
            order_no=self.order_no,
            registration_ref=self.registration_ref,
            reason=self.reason,
            amount_fen=self.amount_fen,
        )


def request_refund(
    uow: UnitOfWork,
    ask: RefundAsk,
    *,
    actor: str,
    now: datetime,
    in_scope: Callable[[str], bool] = lambda village_code: True,
) -> tuple[str, bool]:
    """Record the refund (requested): (its number, replayed). The platform hears of it by submit.

    NotFound when there is no such order item in the caller's region; Conflict or Refused when
    the refund rules say no.
    """
    digest = ask.digest()
    try:
        with uow as session:
            earlier = _by_key(session, actor, ask.idempotency_key)
            if earlier is not None:
                replay_of(earlier.request_hash, digest, what="退款申请")
                return earlier.refund_no, True
            return _record_request(
                session, ask, digest, actor=actor, now=now, in_scope=in_scope
            ), False
    except IntegrityError:
        # Another request for this item won the race (one in progress per item), or the same
        # Idempotency-Key arrived twice at once.
        with uow as session:
            earlier = _by_key(session, actor, ask.idempotency_key)
            if earlier is not None:
                replay_of(earlier.request_hash, digest, what="退款申请")
                return earlier.refund_no, True
        raise Conflict(ONE_AT_A_TIME, reason="refund_in_progress") from None


def record_request(
    session: Session,
    ask: RefundAsk,
    *,
    actor: str,
    now: datetime,
    digest: str | None = None,
    in_scope: Callable[[str], bool] = lambda village_code: True,
) -> str:
    """Record a refund (requested) inside the caller's transaction, under the same rules as
    request_refund: for a service that asks several refunds as one request, all or none (a
    school giving back a student's unused years). `digest`: the hash of that request, kept on
    each refund to tell its replay (the ask's own by default). Its number; `submit` sends it."""
    return _record_request(
        session, ask, digest or ask.digest(), actor=actor, now=now, in_scope=in_scope
    )


def _by_key(session: Session, actor: str, key: str | None) -> Refund | None:
    if not key:
        return None
    return session.scalar(
        select(Refund).where(Refund.requested_by == actor, Refund.idempotency_key == key)
    )


def _record_request(
    session: Session,
    ask: RefundAsk,
    digest: str,
    *,
    actor: str,
    now: datetime,
    in_scope: Callable[[str], bool],
) -> str:
    order = session.execute(
        select(
            PaymentOrder.id, PaymentOrder.order_no, PaymentOrder.status, PaymentOrder.county_code
        )
        .where(PaymentOrder.order_no == ask.order_no)
        .with_for_update()
    ).first()
    found = (
        session.execute(
            select(OrderItem.id, OrderItem.amount_fen, Registration.village_code)
            .join(Registration, Registration.id == OrderItem.registration_id)
            .where(OrderItem.order_id == order.id, Registration.ref == ask.registration_ref)
        ).first()
        if order is not None
        else None
    )
    if found is None or not in_scope(found.village_code):
        raise NotFound(
            "没有找到这笔订单中的这项缴费（或不在您的管辖范围内）。", reason="no_such_item"
        )
    past = [
        PastRefund(amount, RefundStatus(status))
        for amount, status in session.execute(
            select(Refund.amount_fen, Refund.status).where(Refund.order_item_id == found.id)
        )
    ]
    amount = check_request(
        order_status=OrderStatus(order.status),
        item_fen=found.amount_fen,
        past=past,
        amount_fen=ask.amount_fen,
    )
    # Numbered under the order's row lock: the order's n-th refund is <order_no>R<n>.
    count = session.scalar(select(func.count()).where(Refund.order_id == order.id)) or 0
    refund = Refund(
        refund_no=f"{order.order_no}R{count + 1}",
        order_id=order.id,
        order_item_id=found.id,
        amount_fen=amount,
        reason=ask.reason,
        note=ask.note,
        status=RefundStatus.REQUESTED.value,
        requested_by=actor,
        idempotency_key=ask.idempotency_key,
        request_hash=digest,
        next_check_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(refund)
    session.flush()  # the partial unique index decides a race for the same item here
    audit.write(
        session,
        Note(
            actor=actor,
            action="refund.requested",
            target=refund.refund_no,
            region_code=order.county_code,
            detail={
                "order_no": order.order_no,
                "registration_ref": ask.registration_ref,
                "amount_fen": amount,
                "reason": ask.reason,
                "note": ask.note,
            },
        ),
    )
    log.info("refund %s: requested, %d fen (%s)", refund.refund_no, amount, ask.reason)
    return refund.refund_no


# -- sending it -----------------------------------------------------------------------------


def submit(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    refund_no: str,
    *,
    now: datetime,
    check_after: timedelta = CHECK_AFTER,
) -> RefundStatus:
    """Send a requested refund to the platform; its status afterwards. Safe to repeat."""
    with uow as session:
        refund = _load(session, refund_no)
    if refund.status is not RefundStatus.REQUESTED:
        return refund.status
    request = RefundRequest(
        order_no=refund.order_no,
        refund_no=refund_no,
        total_fen=refund.order_paid_fen,
        refund_fen=refund.amount_fen,
        reason=DESCRIPTIONS[refund.reason],
    )
    try:
        accepted = gateway.refund(request)
    except GatewayError as exc:
        return _submit_failed(
            uow, refund, exc, now=now, retry_at=now + min(RETRY_AFTER, check_after)
        )
    with uow as session:
        moved = REFUNDS.apply(
            session,
            "accept",
            Refund.refund_no == refund_no,
            values={
                "refund_id": accepted.platform_refund_id,
                "attempts": Refund.attempts + 1,
                "last_error": None,
                "next_check_at": now + check_after,
                "updated_at": now,
            },
        )
    if moved:
        log.info("refund %s: accepted by the platform", refund_no)
    return RefundStatus.PROCESSING


def _submit_failed(
    uow: UnitOfWork, refund: _Loaded, exc: GatewayError, *, now: datetime, retry_at: datetime
) -> RefundStatus:
    with uow as session:
        if exc.retryable:
            session.execute(
                update(Refund)
                .where(
                    Refund.refund_no == refund.refund_no,
                    Refund.status == RefundStatus.REQUESTED.value,
                )
                .values(
                    attempts=Refund.attempts + 1,
                    last_error=str(exc)[:255],
                    next_check_at=retry_at,
                    updated_at=now,
                )
            )
            log.warning("refund %s: the platform could not take it yet (%s)", refund.refund_no, exc)
            return RefundStatus.REQUESTED
        REFUNDS.apply(
            session,
            "fail",
            Refund.refund_no == refund.refund_no,
            values={
                "attempts": Refund.attempts + 1,
                "last_error": str(exc)[:255],
                "updated_at": now,
            },
            audit_note=Note(
                actor="wechat",
                action="refund.refused",
                target=refund.refund_no,
                region_code=refund.county_code,
                detail={"error": str(exc), "code": exc.code},
            ),
        )
    log.error("refund %s: the platform refused it: %s", refund.refund_no, exc)
    return RefundStatus.FAILED


# -- finishing it ---------------------------------------------------------------------------


def record_result(
    uow: UnitOfWork, result: RefundResult, *, actor: str, now: datetime
) -> RefundStatus:
    """Record what the platform reports of a refund (notification or query); its status after.

    Finishing happens once: a refund already succeeded or failed is answered as it stands.
    UnknownRefund for a number we never issued; NoticeMismatch for a report of another amount
    or order.
    """
    with uow as session:
        refund = _load(session, result.refund_no, lock=True)
        if result.order_no not in (None, refund.order_no) or result.refund_fen != refund.amount_fen:
            raise NoticeMismatch(
                f"refund {refund.refund_no}: the platform reports {result.refund_fen} fen for "
                f"{result.order_no}, we asked {refund.amount_fen} fen for {refund.order_no}",
                reason="refund_mismatch",
            )
        if refund.status in FINISHED:
            return refund.status
        if result.state == "processing":
            _note_processing(session, refund, result, now=now)
            return RefundStatus.PROCESSING
        if result.state == "failed":
            _fail(session, refund, result, actor=actor, now=now)
            return RefundStatus.FAILED
        _succeed(session, refund, result, actor=actor, now=now)
        return RefundStatus.SUCCEEDED


def _note_processing(session: Session, refund: _Loaded, result: RefundResult, *, now) -> None:
    """Accepted, though our submit may never have heard so: look again later."""
    values = {
        "refund_id": refund.refund_id or result.platform_refund_id,
        "next_check_at": now + CHECK_AFTER,
        "updated_at": now,
    }
    if refund.status is RefundStatus.REQUESTED:
        REFUNDS.apply(session, "accept", Refund.id == refund.id, values=values)
    else:
        session.execute(update(Refund).where(Refund.id == refund.id).values(**values))


def _fail(session: Session, refund: _Loaded, result: RefundResult, *, actor: str, now) -> None:
    REFUNDS.apply(
        session,
        "fail",
        Refund.id == refund.id,
        values={
            "refund_id": refund.refund_id or result.platform_refund_id,
            "last_error": "the platform reports it failed",
            "updated_at": now,
        },
        audit_note=Note(
            actor=actor,
            action="refund.failed",
            target=refund.refund_no,
            region_code=refund.county_code,
            detail={"refund_status": result.state},
        ),
    )
    log.error("refund %s failed at the platform; the money did not go back", refund.refund_no)


def _succeed(session: Session, refund: _Loaded, result: RefundResult, *, actor: str, now) -> None:
    REFUNDS.apply(
        session,
        "succeed",
        Refund.id == refund.id,
        values={
            "refund_id": refund.refund_id or result.platform_refund_id,
            "succeeded_at": result.succeeded_at or now,
            "updated_at": now,
        },
        audit_note=Note(
            actor=actor,
            action="refund.succeeded",
            target=refund.refund_no,
            region_code=refund.county_code,
            detail={"order_no": refund.order_no, "amount_fen": refund.amount_fen},
        ),
        then=lambda session, _ids: _apply_success(session, refund, now=now),
    )
    log.info("refund %s: %d fen given back", refund.refund_no, refund.amount_fen)


def _apply_success(session: Session, refund: _Loaded, *, now: datetime) -> None:
    given_back = dict(
        session.execute(
            select(Refund.order_item_id, func.sum(Refund.amount_fen))
            .where(
                Refund.order_id == refund.order_id,
                Refund.status == RefundStatus.SUCCEEDED.value,
            )
            .group_by(Refund.order_item_id)
        ).all()
    )
    items = session.execute(
        select(
            OrderItem.id, OrderItem.amount_fen, OrderItem.gov_paid_fen, OrderItem.registration_id
        ).where(OrderItem.order_id == refund.order_id)
    ).all()
    item = next(i for i in items if i.id == refund.order_item_id)
    effects = on_refund_succeeded(
        order_status=refund.order_status,
        item_fen=item.amount_fen,
        item_refunded_fen=given_back.get(item.id, 0),
        order_fully_refunded=all(given_back.get(i.id, 0) >= i.amount_fen for i in items),
    )
    if effects.release_registration:
        session.execute(
            update(OrderItem).where(OrderItem.id == item.id).values(held_registration_id=None)
        )
        registration = session.get(Registration, item.registration_id)
        assert registration is not None  # an order item's registration
        was = (registration.status, registration.paid_channel)
        if REGISTRATIONS.apply(
            session,
            "give_back",
            Registration.id == item.registration_id,
            values={"tax_receipt_no": None, "paid_channel": None, "updated_at": now},
        ):
            journal.given_back(
                session,
                day=journal.day_of(now),
                registration=registration,
                channel=was[1],
                was_entered=was[0] == RegistrationStatus.TREASURY_ENTERED.value,
                paid_fen=item.amount_fen,
                gov_paid_fen=item.gov_paid_fen,
            )
    if effects.reversal:
        session.add(
            LedgerMessage(
                message_id=f"rev-{refund.id}",
                kind="reversal",
                registration_id=item.registration_id,
                order_item_id=item.id,
                refund_id=refund.id,
                status=MessageStatus.PENDING.value,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    if effects.order_refunded:
        ORDERS.apply(
            session, "refund", PaymentOrder.id == refund.order_id, values={"updated_at": now}
        )
    # The payer may hear of it, and of the treasury entry of what the order still pays for.
    subscription_events.refund_succeeded(session, refund.id, now=now)
    subscription_events.order_entered(session, refund.order_id, now=now)


@dataclass(frozen=True)
class _Loaded:
    id: int
    refund_no: str
    status: RefundStatus
    amount_fen: int
    reason: str
    refund_id: str | None
    order_item_id: int
    order_id: int
    order_no: str
    order_status: OrderStatus
    order_paid_fen: int
    county_code: str | None


def _load(session: Session, refund_no: str, *, lock: bool = False) -> _Loaded:
    query = (
        select(
            Refund.id,
            Refund.refund_no,
            Refund.status,
            Refund.amount_fen,
            Refund.reason,
            Refund.refund_id,
            Refund.order_item_id,
            Refund.order_id,
            PaymentOrder.order_no,
            PaymentOrder.status.label("order_status"),
            func.coalesce(PaymentOrder.paid_fen, PaymentOrder.total_fen).label("order_paid_fen"),
            PaymentOrder.county_code,
        )
        .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
        .where(Refund.refund_no == refund_no)
    )
    row = session.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise UnknownRefund(f"没有退款 {refund_no}。", reason="unknown_refund")
    return _Loaded(
        **{
            **row._asdict(),
            "status": RefundStatus(row.status),
            "order_status": OrderStatus(row.order_status),
        }
    )


# -- the worker's part ----------------------------------------------------------------------


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
    uow: UnitOfWork, *, now: datetime, order_nos: list[str] | None = None
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
            # Asked once only: a refund the platform refused or closed waits for a person,
            # rather than being asked again every round.
            ~select(Refund.id).where(Refund.order_item_id == OrderItem.id).exists(),
        )
    )
    if order_nos is not None:
        query = query.where(PaymentOrder.order_no.in_(order_nos))
    with uow as session:
        wanted = session.execute(query).all()
    asked = []
    for order_no, ref in wanted:
        try:
            refund_no, _ = request_refund(
                uow,
                RefundAsk(order_no, ref, "duplicate_payment", note="重复缴费，系统自动退款"),
                actor=SYSTEM,
                now=now,
            )
        except DomainError as exc:
            log.warning("duplicate payment %s: no refund asked: %s", order_no, exc)
            continue
        asked.append(refund_no)
    return asked


def check_refunds(
    uow: UnitOfWork,
    gateway: PaymentGateway,
    *,
    now: datetime,
    check_after: timedelta = CHECK_AFTER,
    limit: int = 100,
) -> RefundRound:
    """One round: refund new duplicate payments, send requested refunds, ask about slow ones."""
    report = RefundRound()
    report.asked = refund_duplicate_payments(uow, now=now)
    with uow as session:
        due = _claim_due(session, now=now, limit=limit, check_after=check_after)
    for refund_no, status in due:
        try:
            if status is RefundStatus.REQUESTED:
                after = submit(uow, gateway, refund_no, now=now, check_after=check_after)
            else:
                reported = gateway.query_refund(refund_no)
                after = record_result(uow, reported, actor="wechat:refundquery", now=now)
        except (GatewayError, NoticeMismatch) as exc:
            log.warning("refund %s: check failed: %s", refund_no, exc)
            continue
        if after is RefundStatus.SUCCEEDED:
            report.finished.append(refund_no)
        elif after is RefundStatus.FAILED:
            report.failed.append(refund_no)
        elif status is RefundStatus.REQUESTED and after is RefundStatus.PROCESSING:
            report.submitted.append(refund_no)
    return report


def _claim_due(
    session: Session, *, now: datetime, limit: int, check_after: timedelta
) -> list[tuple[str, RefundStatus]]:
    """Refunds to send or ask about; each pushed forward by a lease so one worker takes it."""
    rows = session.execute(
        select(Refund.id, Refund.refund_no, Refund.status)
        .where(
            Refund.status.in_([RefundStatus.REQUESTED.value, RefundStatus.PROCESSING.value]),
            Refund.next_check_at <= now,
        )
        .order_by(Refund.next_check_at, Refund.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    due = []
    for row in rows:
        status = RefundStatus(row.status)
        due.append((row.refund_no, status))
        lease = LEASE if status is RefundStatus.REQUESTED else check_after
        session.execute(update(Refund).where(Refund.id == row.id).values(next_check_at=now + lease))
    return due
