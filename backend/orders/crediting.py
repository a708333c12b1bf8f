"""Crediting a payment the platform reports (notification, or its answer to our query): once.

The usual case, an open order paid in full, is the order machine's `pay` move and four more
statements in one transaction, built once from the same tables (backend.states.transitions) and
run compiled: the busiest write of the season costs little more CPU than PostgreSQL spends on
it. Everything else (paid already, closed, another amount, an order we never made) is decided by
the order machine's `on_payment` under a row lock. However many copies of a notification arrive
at once, one guarded update wins; only the winner marks the registrations paid, writes the tax
ledger messages (the outbox) and the audit entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, String, bindparam, cast, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.infra import audit
from backend.infra.statements import execute_compiled
from backend.infra.uow import UnitOfWork
from backend.models import LedgerMessage, OrderItem, PaymentOrder, Registration
from backend.payments.gateway import GatewayError, TradeStatus
from backend.progress import journal
from backend.states.ledger import MessageStatus
from backend.states.orders import OrderStatus, PaymentDecision, on_payment
from backend.states.registrations import RegistrationStatus
from backend.states.transitions import ORDERS, REGISTRATIONS

log = logging.getLogger(__name__)


class UnknownOrder(NotFound):
    """A payment for an order number we never issued."""


@dataclass(frozen=True)
class ReportedPayment:
    """A payment the platform reported, by notification or in answer to our query."""

    order_no: str
    transaction_id: str
    total_fen: int
    paid_at: datetime


def record_payment(
    uow: UnitOfWork, payment: ReportedPayment, *, actor: str, now: datetime
) -> PaymentDecision:
    """Credit an order once for a reported payment; safe to call any number of times.

    UnknownOrder for an order number we never issued.
    """
    values = _values(payment, actor=actor, now=now)
    try:
        if uow.dialect == "postgresql":
            paid = uow.single(_CREDIT_AT_ONCE, **values)
            if paid:
                return _paid(payment)
            with uow as session:
                return _record_unusual(session, payment, actor=actor, now=now)
        with uow as session:
            return _record(session, payment, values, actor=actor, now=now)
    except IntegrityError:
        # The platform's transaction_id is unique: one already recorded on another order means
        # the report is wrong somewhere. Nothing is credited; the caller answers FAIL and logs.
        log.error(
            "order %s: transaction %s is already recorded on another order",
            payment.order_no,
            payment.transaction_id,
        )
        return PaymentDecision(None, False, "transaction_conflict")


def record_confirmed_trade(
    uow: UnitOfWork, trade: TradeStatus, *, actor: str, now: datetime
) -> PaymentDecision:
    """A payment the platform confirmed in answer to a query, recorded as its notification
    would be."""
    if trade.transaction_id is None or trade.total_fen is None or trade.paid_at is None:
        raise GatewayError(f"order {trade.order_no}: reported paid without the payment's details")
    payment = ReportedPayment(trade.order_no, trade.transaction_id, trade.total_fen, trade.paid_at)
    return record_payment(uow, payment, actor=actor, now=now)


# -- the usual case: statements built once ----------------------------------------------------
#
# An open order paid in full: the order machine's `pay` move, then the registrations' `credit`
# (with the paying channel), one progress journal row per paid registration, one outbox message
# per paid registration (design.md section 8: in the transaction that pays
# it, so no crash can lose it, and its message_id, unique per order item, cannot double it) and
# the audit entry. Built once from the machines' tables; on any database as four statements in
# one transaction, on PostgreSQL as the same four chained in one statement (data-modifying
# CTEs), one round trip, atomic on its own.

_orders, _items, _registrations = (
    PaymentOrder.__table__,
    OrderItem.__table__,
    Registration.__table__,
)
_ledger = LedgerMessage.__table__
_NOW = bindparam("b_now", type_=_orders.c.updated_at.type)
_DAY = bindparam("b_day", type_=journal.ProgressChange.__table__.c.day.type)
_PAY = ORDERS.statement(
    "pay",
    _orders.c.order_no == bindparam("b_order_no"),
    _orders.c.total_fen == bindparam("b_paid_fen"),
    returning=(_orders.c.county_code,),
    transaction_id=bindparam("b_transaction_id"),
    paid_at=bindparam("b_paid_at", type_=_orders.c.paid_at.type),
    paid_fen=bindparam("b_paid_fen"),
    updated_at=_NOW,
)


def _follow_ups(order_id: ColumnElement[int], county_code: ColumnElement[str | None]):
    """What paying the order `order_id` names writes besides the order itself."""
    of_order = _items.c.order_id == order_id
    credit = REGISTRATIONS.statement(
        "credit",
        _registrations.c.id.in_(select(_items.c.registration_id).where(of_order)),
        paid_channel=select(journal.channel_of(_orders))
        .where(_orders.c.id == order_id)
        .scalar_subquery(),
        updated_at=_NOW,
    )
    enqueue = insert(_ledger).from_select(
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
            literal(MessageStatus.PENDING.value),
            literal(0),
            _NOW,
            _NOW,
            _NOW,
        ).where(of_order),
    )
    audit_entry = audit.entry_statement(
        "order.paid", occurred_at=_NOW, target_param="b_order_no", region_code=county_code
    )
    return credit, enqueue, journal.order_paid(order_id, _DAY), audit_entry


_CREDIT_REGISTRATIONS, _ENQUEUE_LEDGER_PAYMENTS, _JOURNAL_PAID, _AUDIT_PAID = _follow_ups(
    bindparam("b_id"), bindparam("b_county_code", type_=_orders.c.county_code.type)
)
_paid_order = _PAY.cte("paid")
_CREDIT_AT_ONCE = select(_paid_order.c.id, _paid_order.c.county_code).add_cte(
    *(
        statement.cte(name)
        for statement, name in zip(
            _follow_ups(select(_paid_order.c.id).scalar_subquery(), _paid_order.c.county_code),
            ("credited", "enqueued", "journalled", "audited"),
            strict=True,
        )
    )
)


def _values(payment: ReportedPayment, *, actor: str, now: datetime) -> dict:
    return {
        "b_order_no": payment.order_no,
        "b_paid_fen": payment.total_fen,
        "b_transaction_id": payment.transaction_id,
        "b_paid_at": payment.paid_at,
        "b_now": now,
        "b_day": journal.day_of(now),
        "b_actor": actor,
        "b_detail": {
            "transaction_id": payment.transaction_id,
            "paid_fen": payment.total_fen,
            "reason": "paid",
        },
    }


def _record(
    session: Session, payment: ReportedPayment, values: dict, *, actor: str, now: datetime
) -> PaymentDecision:
    connection = session.connection()
    paid = execute_compiled(connection, _PAY, values)
    if not paid:
        return _record_unusual(session, payment, actor=actor, now=now)
    order_id, county_code = paid[0]
    keyed = {**values, "b_id": order_id, "b_county_code": county_code}
    for statement in (
        _CREDIT_REGISTRATIONS,
        _ENQUEUE_LEDGER_PAYMENTS,
        _JOURNAL_PAID,
        _AUDIT_PAID,
    ):
        execute_compiled(connection, statement, keyed)
    return _paid(payment)


def _paid(payment: ReportedPayment) -> PaymentDecision:
    log.info("order %s: paid (paid)", payment.order_no)
    return PaymentDecision("pay", True, "paid")


# -- everything else: decided by the order machine under a row lock ----------------------------


def _record_unusual(
    session: Session, payment: ReportedPayment, *, actor: str, now: datetime
) -> PaymentDecision:
    """Paid already, closed, another amount or unknown."""
    order = session.execute(
        select(
            PaymentOrder.id,
            PaymentOrder.order_no,
            PaymentOrder.status,
            PaymentOrder.total_fen,
            PaymentOrder.county_code,
        )
        .where(PaymentOrder.order_no == payment.order_no)
        .with_for_update()
    ).first()
    if order is None:
        raise UnknownOrder(f"没有订单 {payment.order_no}。", reason="unknown_order")
    status = OrderStatus(order.status)
    ids = list(
        session.scalars(select(OrderItem.registration_id).where(OrderItem.order_id == order.id))
    )
    free = status is OrderStatus.CLOSED and _registrations_free(session, order.id, ids)
    decision = on_payment(
        status, amount_matches=payment.total_fen == order.total_fen, registrations_free=free
    )
    if decision.event is None:
        if decision.reason == "amount_mismatch":
            _audit_amount_mismatch(session, order, payment, actor=actor)
        return decision
    if decision.event == "pay_after_close" and not _retake_holds(session, order.id):
        decision = PaymentDecision("mark_duplicate", False, "duplicate_payment")

    def credit(session: Session, _ids: list[int]) -> None:
        values = {"b_id": order.id, "b_now": now, "b_day": journal.day_of(now)}
        for statement in (_CREDIT_REGISTRATIONS, _ENQUEUE_LEDGER_PAYMENTS, _JOURNAL_PAID):
            execute_compiled(session.connection(), statement, values)

    moved = ORDERS.apply(
        session,
        decision.event,
        PaymentOrder.id == order.id,
        values={
            "transaction_id": payment.transaction_id,
            "paid_at": payment.paid_at,
            "paid_fen": payment.total_fen,
            "status_reason": None if decision.credit else decision.reason,
            "updated_at": now,
        },
        audit_note=audit.Note(
            actor=actor,
            action="order.paid" if decision.credit else "order.refund_due",
            target=order.order_no,
            region_code=order.county_code,
            detail={
                "transaction_id": payment.transaction_id,
                "paid_fen": payment.total_fen,
                "reason": decision.reason,
            },
        ),
        then=credit if decision.credit else None,
    )
    if not moved:  # another delivery of the same payment got there first
        return PaymentDecision(None, False, "already_recorded")
    log.info("order %s: %s (%s)", order.order_no, decision.target, decision.reason)
    return decision


def _audit_amount_mismatch(session: Session, order, payment: ReportedPayment, *, actor: str):
    audit.record(
        session,
        actor=actor,
        action="order.amount_mismatch",
        target=order.order_no,
        region_code=order.county_code,
        detail={
            "order_total_fen": order.total_fen,
            "paid_fen": payment.total_fen,
            "transaction_id": payment.transaction_id,
        },
    )


def _registrations_free(session: Session, order_id: int, ids: list[int]) -> bool:
    """No other order holds these registrations and none is paid or held (a collector batch
    holds its registrations pending). The rows stay locked until the credit commits, so nobody
    (a collector recording it, another order) takes one between this check and the credit."""
    statuses = session.scalars(
        select(Registration.status)
        .where(Registration.id.in_(ids))
        .order_by(Registration.id)
        .with_for_update()
    ).all()
    held_elsewhere = session.scalar(
        select(func.count())
        .select_from(OrderItem)
        .where(OrderItem.held_registration_id.in_(ids), OrderItem.order_id != order_id)
    )
    unpaid = sum(1 for status in statuses if status == RegistrationStatus.UNPAID.value)
    return held_elsewhere == 0 and unpaid == len(ids)


def _retake_holds(session: Session, order_id: int) -> bool:
    """A closed order paid late takes its registrations back, unless another order won them."""
    try:
        with session.begin_nested():
            session.execute(
                update(OrderItem)
                .where(OrderItem.order_id == order_id)
                .values(held_registration_id=OrderItem.registration_id)
            )
    except IntegrityError:
        return False
    return True
