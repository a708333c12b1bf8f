"""Order services: create an order, record a payment, close an order. Each owns its transaction.

Every state change is a guarded update (`... WHERE status = <expected>`); only the caller whose
update matched writes the follow-up rows. The database enforces the rest: one order item per
registration may hold it (order_item.held_registration_id is unique), and one order per payer
and Idempotency-Key (payment_order's unique pair).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, bindparam, cast, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.fees import PolicyBook
from backend.infra import audit
from backend.infra.statements import execute_compiled
from backend.models import (
    AuditEntry,
    Enrollee,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    Registration,
    SpecialGroupMembership,
)
from backend.orders.pricing import PricedItem, PricingError, price_item
from backend.payments.gateway import GatewayError, PaymentGateway, PaymentRequest, TradeStatus
from backend.states.orders import OrderStatus, PaymentDecision, on_payment

log = logging.getLogger(__name__)

MAX_ITEMS = 10  # a household rarely has more than five people with two schemes each
SCHEME_WORDS = {"pension": "养老保险", "medical": "医疗保险"}


class OrderError(Exception):
    """A request we refuse; `status` is the HTTP status it maps to, the message is for people."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class OrderConflict(OrderError):
    status = 409


class PaymentUnavailable(OrderError):
    status = 503


@dataclass(frozen=True)
class ItemRequest:
    registration_ref: str
    grade_yuan: int | None = None


@dataclass(frozen=True)
class ReportedPayment:
    """A payment WeChat reported, by notification or in answer to our query."""

    order_no: str
    transaction_id: str
    total_fen: int
    paid_at: datetime


def new_order_no(now: datetime) -> str:
    """Our out_trade_no: 'SI', Beijing date and time, 10 random digits (26 characters)."""
    beijing = now.astimezone(UTC) + timedelta(hours=8)
    return f"SI{beijing:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def request_hash(items: Sequence[ItemRequest], trade_type: str) -> str:
    canonical = json.dumps(
        {
            "items": sorted([i.registration_ref, i.grade_yuan or 0] for i in items),
            "trade_type": trade_type,
        },
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_order(
    session: Session,
    gateway: PaymentGateway,
    book: PolicyBook,
    *,
    openid: str,
    idempotency_key: str,
    items: Sequence[ItemRequest],
    trade_type: str,
    client_ip: str,
    now: datetime,
    ttl: timedelta,
) -> tuple[PaymentOrder, bool]:
    """Return (order, created). A replay of the same key and body returns the first order."""
    digest = request_hash(items, trade_type)
    existing = _by_key(session, openid, idempotency_key)
    if existing is not None:
        return _replay(existing, digest), False
    _check_items(items)

    priced = _price(session, book, items)
    total = sum(p.amount_fen for p in priced)
    if total <= 0:
        raise OrderError("所选项目均由政府代缴，无需个人缴费。", field="items")
    order = PaymentOrder(
        order_no=new_order_no(now),
        openid=openid,
        idempotency_key=idempotency_key,
        request_hash=digest,
        trade_type=trade_type,
        status=OrderStatus.CREATED.value,
        total_fen=total,
        description=_description(priced),
        client_ip=client_ip,
        expires_at=now + ttl,
        created_at=now,
        items=[
            OrderItem(
                registration_id=p.registration_id,
                held_registration_id=p.registration_id,
                scheme=p.scheme,
                period_year=p.period_year,
                grade_yuan=p.grade_yuan,
                amount_fen=p.amount_fen,
                gov_paid_fen=p.gov_paid_fen,
                contribution_subsidy_fen=p.contribution_subsidy_fen,
            )
            for p in priced
        ],
    )
    ids = [p.registration_id for p in priced]
    try:
        session.add(order)
        session.flush()
        held = session.execute(
            update(Registration)
            .where(Registration.id.in_(ids), Registration.status == "unpaid")
            .values(status="pending", updated_at=now)
        ).rowcount
        if held != len(ids):
            raise OrderConflict("所选参保登记已缴费或正在另一笔订单中支付，请刷新后重试。")
        audit.record(
            session,
            actor=f"openid:{openid}",
            action="order.create",
            target=order.order_no,
            detail={"total_fen": total, "registrations": len(ids), "trade_type": trade_type},
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        # Either another request with the same key won the race, or another order holds one
        # of these registrations: the constraints decided, not a check in Python.
        existing = _by_key(session, openid, idempotency_key)
        if existing is not None:
            return _replay(existing, digest), False
        raise OrderConflict("所选参保登记已缴费或正在另一笔订单中支付，请刷新后重试。") from None
    except OrderConflict:
        session.rollback()
        raise

    _start_payment(session, gateway, order, openid=openid, now=now)
    return order, True


# The usual notification: an open order, paid in full. Three statements built once (building them
# per call cost more CPU than PostgreSQL spends running them), in the caller's transaction. The
# guarded UPDATE is the state machine's created -> paid move (on_payment with a matching amount);
# anything else (already paid, closed, another amount, unknown) takes the general path below.
_orders, _items, _registrations = (
    PaymentOrder.__table__,
    OrderItem.__table__,
    Registration.__table__,
)
_CREDIT_OPEN_ORDER = (
    update(_orders)
    .where(
        _orders.c.order_no == bindparam("b_order_no"),
        _orders.c.status == OrderStatus.CREATED.value,
        _orders.c.total_fen == bindparam("b_paid_fen"),
    )
    .values(
        status=OrderStatus.PAID.value,
        transaction_id=bindparam("b_transaction_id"),
        paid_at=bindparam("b_paid_at"),
        paid_fen=bindparam("b_paid_fen"),
        updated_at=bindparam("b_now"),
    )
    .returning(_orders.c.id)
)
_MARK_ITEMS_PAID = (
    update(_registrations)
    .where(
        _registrations.c.id.in_(
            select(_items.c.registration_id).where(_items.c.order_id == bindparam("b_order_id"))
        ),
        # Two comparisons, not IN (...): an expanding IN would be compiled again on every call.
        or_(_registrations.c.status == "pending", _registrations.c.status == "unpaid"),
    )
    .values(status="paid", updated_at=bindparam("b_now"))
)
_AUDIT_PAID = insert(AuditEntry.__table__).values(
    occurred_at=bindparam("b_now"),
    actor=bindparam("b_actor"),
    action="order.paid",
    target=bindparam("b_order_no"),
    detail=bindparam("b_detail", type_=AuditEntry.__table__.c.detail.type),
)


# One outbox message per paid registration, in the transaction that pays it (design.md
# section 8): no crash can lose it, and the unique (registration, kind) pair cannot double it.
_ledger = LedgerMessage.__table__
_NOW_TYPE = _ledger.c.created_at.type
_ENQUEUE_LEDGER_PAYMENTS = insert(_ledger).from_select(
    [
        "message_id",
        "kind",
        "registration_id",
        "order_item_id",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ],
    select(
        literal("pay-") + cast(_items.c.id, String),
        literal("payment"),
        _items.c.registration_id,
        _items.c.id,
        literal("pending"),
        literal(0),
        bindparam("b_now", type_=_NOW_TYPE),
        bindparam("b_now", type_=_NOW_TYPE),
        bindparam("b_now", type_=_NOW_TYPE),
    ).where(_items.c.order_id == bindparam("b_order_id")),
)


def record_payment(
    session: Session, payment: ReportedPayment, *, actor: str, now: datetime
) -> PaymentDecision:
    """Credit an order once for a payment WeChat reported; safe to call any number of times."""
    try:
        return _record_payment(session, payment, actor=actor, now=now)
    except IntegrityError:
        # WeChat's transaction_id is unique: one already recorded on another order means the
        # report is wrong somewhere. Nothing is credited; the caller answers FAIL and logs it.
        session.rollback()
        log.error(
            "order %s: transaction %s is already recorded on another order",
            payment.order_no,
            payment.transaction_id,
        )
        return PaymentDecision(None, False, "transaction_conflict")


def _record_payment(
    session: Session, payment: ReportedPayment, *, actor: str, now: datetime
) -> PaymentDecision:
    connection = session.connection()
    credited = execute_compiled(
        connection,
        _CREDIT_OPEN_ORDER,
        {
            "b_order_no": payment.order_no,
            "b_paid_fen": payment.total_fen,
            "b_transaction_id": payment.transaction_id,
            "b_paid_at": payment.paid_at,
            "b_now": now,
        },
    )
    if credited:
        order_id = credited[0][0]
        execute_compiled(connection, _MARK_ITEMS_PAID, {"b_order_id": order_id, "b_now": now})
        execute_compiled(
            connection, _ENQUEUE_LEDGER_PAYMENTS, {"b_order_id": order_id, "b_now": now}
        )
        execute_compiled(
            connection,
            _AUDIT_PAID,
            {
                "b_now": now,
                "b_actor": actor,
                "b_order_no": payment.order_no,
                "b_detail": {
                    "transaction_id": payment.transaction_id,
                    "paid_fen": payment.total_fen,
                    "reason": "paid",
                },
            },
        )
        session.commit()
        log.info("order %s: paid (paid)", payment.order_no)
        return PaymentDecision(OrderStatus.PAID, True, "paid")
    return _record_unusual_payment(session, payment, actor=actor, now=now)


def record_confirmed_trade(
    session: Session, trade: TradeStatus, *, actor: str, now: datetime
) -> PaymentDecision:
    """A payment WeChat confirmed in answer to orderquery, recorded as its notification would be."""
    if trade.transaction_id is None or trade.total_fen is None or trade.paid_at is None:
        raise GatewayError(f"order {trade.out_trade_no}: WeChat says paid but gave no details")
    payment = ReportedPayment(
        trade.out_trade_no, trade.transaction_id, trade.total_fen, trade.paid_at
    )
    return record_payment(session, payment, actor=actor, now=now)


def _record_unusual_payment(
    session: Session, payment: ReportedPayment, *, actor: str, now: datetime
) -> PaymentDecision:
    """Already recorded, closed, another amount or unknown: decide with the state machine."""
    order = session.scalar(
        select(PaymentOrder).where(PaymentOrder.order_no == payment.order_no).with_for_update()
    )
    if order is None:
        session.rollback()
        raise LookupError(payment.order_no)
    status = OrderStatus(order.status)
    ids = [item.registration_id for item in order.items]
    free = status is OrderStatus.CLOSED and _registrations_free(session, order.id, ids)
    decision = on_payment(
        status,
        amount_matches=payment.total_fen == order.total_fen,
        registrations_free=free,
    )
    if decision.target is None:
        if decision.reason == "amount_mismatch":
            audit.record(
                session,
                actor=actor,
                action="order.amount_mismatch",
                target=order.order_no,
                detail={
                    "order_total_fen": order.total_fen,
                    "paid_fen": payment.total_fen,
                    "transaction_id": payment.transaction_id,
                },
            )
            session.commit()
        else:
            session.rollback()
        return decision

    if decision.credit and status is OrderStatus.CLOSED:
        decision = _retake_holds(session, order.id, ids, decision)
    moved = session.execute(
        update(PaymentOrder)
        .where(PaymentOrder.id == order.id, PaymentOrder.status == status.value)
        .values(
            status=decision.target.value,
            transaction_id=payment.transaction_id,
            paid_at=payment.paid_at,
            paid_fen=payment.total_fen,
            status_reason=None if decision.credit else decision.reason,
            updated_at=now,
        )
    ).rowcount
    if moved != 1:
        session.rollback()  # another delivery of the same payment got there first
        return PaymentDecision(None, False, "already_recorded")
    if decision.credit:
        session.execute(
            update(Registration)
            .where(Registration.id.in_(ids), Registration.status.in_(("pending", "unpaid")))
            .values(status="paid", updated_at=now)
        )
        execute_compiled(
            session.connection(), _ENQUEUE_LEDGER_PAYMENTS, {"b_order_id": order.id, "b_now": now}
        )
    audit.record(
        session,
        actor=actor,
        action="order.paid" if decision.credit else "order.refund_due",
        target=order.order_no,
        detail={
            "transaction_id": payment.transaction_id,
            "paid_fen": payment.total_fen,
            "reason": decision.reason,
        },
    )
    session.commit()
    log.info("order %s: %s (%s)", order.order_no, decision.target.value, decision.reason)
    return decision


def close_order(session: Session, order_no: str, *, reason: str, actor: str, now: datetime) -> bool:
    """created → closed, releasing its registrations. False when it was no longer open."""
    order = session.scalar(select(PaymentOrder).where(PaymentOrder.order_no == order_no))
    if order is None:
        raise LookupError(order_no)
    moved = session.execute(
        update(PaymentOrder)
        .where(PaymentOrder.id == order.id, PaymentOrder.status == OrderStatus.CREATED.value)
        .values(
            status=OrderStatus.CLOSED.value, closed_at=now, status_reason=reason, updated_at=now
        )
    ).rowcount
    if moved != 1:
        session.rollback()
        return False
    ids = [item.registration_id for item in order.items]
    session.execute(
        update(OrderItem).where(OrderItem.order_id == order.id).values(held_registration_id=None)
    )
    session.execute(
        update(Registration)
        .where(Registration.id.in_(ids), Registration.status == "pending")
        .values(status="unpaid", updated_at=now)
    )
    audit.record(
        session, actor=actor, action="order.close", target=order_no, detail={"reason": reason}
    )
    session.commit()
    log.info("order %s closed (%s)", order_no, reason)
    return True


# -- helpers --------------------------------------------------------------------------------


def _by_key(session: Session, openid: str, key: str) -> PaymentOrder | None:
    return session.scalar(
        select(PaymentOrder).where(
            PaymentOrder.openid == openid, PaymentOrder.idempotency_key == key
        )
    )


def _replay(order: PaymentOrder, digest: str) -> PaymentOrder:
    if order.request_hash != digest:
        raise OrderError(
            "这个 Idempotency-Key 已用于另一笔不同内容的订单；新订单请使用新的 Idempotency-Key。",
            field="Idempotency-Key",
        )
    return order


def _check_items(items: Sequence[ItemRequest]) -> None:
    if not items:
        raise OrderError("请至少选择一项参保登记。", field="items")
    if len(items) > MAX_ITEMS:
        raise OrderError(f"一笔订单最多支付 {MAX_ITEMS} 项。", field="items")
    refs = [i.registration_ref for i in items]
    if len(set(refs)) != len(refs):
        raise OrderError("同一参保登记在订单中出现了两次。", field="items")


def _price(session: Session, book: PolicyBook, items: Sequence[ItemRequest]) -> list[PricedItem]:
    refs = [i.registration_ref for i in items]
    rows = session.execute(
        select(Registration, Enrollee.birth_date)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(Registration.ref.in_(refs))
    ).all()
    found = {registration.ref: (registration, birth) for registration, birth in rows}
    missing = [ref for ref in refs if ref not in found]
    if missing:
        raise OrderError(f"找不到参保登记 {', '.join(missing)}，请重新查询。", field="items")
    groups = _groups(session, [found[ref][0].enrollee_id for ref in refs])
    priced = []
    for item in items:
        registration, birth = found[item.registration_ref]
        if registration.status in ("paid", "treasury_entered"):
            raise OrderConflict(f"{_label(registration)}已缴费，无需重复缴纳。")
        if registration.status == "pending":
            raise OrderConflict(f"{_label(registration)}正在另一笔订单中支付，请完成或等待其关闭。")
        try:
            priced.append(
                price_item(
                    book,
                    registration_id=registration.id,
                    village_code=registration.village_code,
                    scheme=registration.scheme,
                    period_year=registration.period_year,
                    birth_date=birth,
                    groups_by_year=groups.get(registration.enrollee_id, {}),
                    is_student=registration.is_student,
                    grade_yuan=item.grade_yuan,
                )
            )
        except PricingError as exc:
            raise OrderError(f"{_label(registration)}：{exc}", field="items") from None
        if priced[-1].amount_fen == 0:
            raise OrderError(f"{_label(registration)}由政府全额代缴，无需个人缴费。", field="items")
    return priced


def _groups(session: Session, enrollee_ids: list[int]) -> dict[int, dict[int, frozenset[str]]]:
    found: dict[int, dict[int, set[str]]] = {}
    rows = session.execute(
        select(
            SpecialGroupMembership.enrollee_id,
            SpecialGroupMembership.year,
            SpecialGroupMembership.group,
        ).where(SpecialGroupMembership.enrollee_id.in_(enrollee_ids))
    )
    for enrollee_id, year, group in rows:
        found.setdefault(enrollee_id, {}).setdefault(year, set()).add(group)
    return {e: {y: frozenset(g) for y, g in years.items()} for e, years in found.items()}


def _label(registration: Registration) -> str:
    return f"{registration.period_year}年度{SCHEME_WORDS[registration.scheme]}"


def _description(priced: list[PricedItem]) -> str:
    schemes = "、".join(
        SCHEME_WORDS[s] for s in ("pension", "medical") if any(p.scheme == s for p in priced)
    )
    return f"城乡居民{schemes}缴费"


def _start_payment(
    session: Session, gateway: PaymentGateway, order: PaymentOrder, *, openid: str, now: datetime
) -> None:
    """Open the WeChat trade (outside any transaction: it is a network call)."""
    try:
        started = gateway.create(
            PaymentRequest(
                out_trade_no=order.order_no,
                total_fen=order.total_fen,
                description=order.description,
                trade_type=order.trade_type,  # type: ignore[arg-type]
                client_ip=order.client_ip,
                expires_at=order.expires_at,
                openid=openid if order.trade_type == "JSAPI" else None,
                product_id=order.order_no if order.trade_type == "NATIVE" else None,
            )
        )
    except GatewayError as exc:
        log.warning("order %s: WeChat Pay refused or failed: %s", order.order_no, exc)
        # Nobody can pay a trade whose prepay_id they never got; free the registrations now.
        close_order(session, order.order_no, reason="gateway_error", actor="system", now=now)
        raise PaymentUnavailable("微信支付暂时不可用，请稍后再试。") from exc
    order.prepay_id = started.prepay_id
    order.code_url = started.code_url
    order.pay_params = started.client_params
    session.commit()


def _registrations_free(session: Session, order_id: int, ids: list[int]) -> bool:
    """No other order holds these registrations and none is paid."""
    held_elsewhere = session.scalar(
        select(func.count())
        .select_from(OrderItem)
        .where(OrderItem.held_registration_id.in_(ids), OrderItem.order_id != order_id)
    )
    unpaid = session.scalar(
        select(func.count())
        .select_from(Registration)
        .where(Registration.id.in_(ids), Registration.status == "unpaid")
    )
    return held_elsewhere == 0 and unpaid == len(ids)


def _retake_holds(
    session: Session, order_id: int, ids: list[int], decision: PaymentDecision
) -> PaymentDecision:
    """A closed order paid late takes its registrations back, unless another order won them."""
    try:
        with session.begin_nested():
            session.execute(
                update(OrderItem)
                .where(OrderItem.order_id == order_id)
                .values(held_registration_id=OrderItem.registration_id)
            )
    except IntegrityError:
        return PaymentDecision(OrderStatus.REFUND_DUE, False, "duplicate_payment")
    return decision
