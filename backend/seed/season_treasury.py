"""The season's treasury entries: what the ledger worker's delivery (backend.ledger.outbox) and
the bureau's confirmation (backend.ledger.confirmations) write for each payment message, in bulk
and dated when each happened.

Per message: delivered (attempt 1, the bureau's ledger_ref, the body as sent), its attempt row,
the receipt and entry time; the registration's guarded paid -> treasury_entered move; the
journal's entered row on the entry day; the audit entry the confirmation endpoint writes. Only
messages still pending whose registration is still paid by their item are taken, so the guarded
moves all succeed and a second run finds nothing to do.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.orm import Session

from backend.infra import audit
from backend.infra.statements import execute_compiled_many
from backend.models import (
    Enrollee,
    LedgerAttempt,
    LedgerMessage,
    OrderItem,
    PaymentOrder,
    Registration,
)
from backend.orders.channels import order_channel
from backend.progress.journal import day_of, entered
from backend.seed.loader import is_in
from backend.seed.season_plan import PlannedEntry, PlannedOrder
from backend.states.ledger import MessageStatus
from backend.states.registrations import RegistrationStatus
from backend.states.transitions import LEDGER_MESSAGES, REGISTRATIONS

WORKER = "seed-season"  # the attempts' worker name
CONFIRMED_BY = "tax-bureau"  # as the confirmation endpoint records it
ORDERS_PER_TRANSACTION = 200

_messages, _items, _registrations = (
    LedgerMessage.__table__,
    OrderItem.__table__,
    Registration.__table__,
)
_DELIVER_AND_CONFIRM = LEDGER_MESSAGES.statement(
    "deliver",
    _messages.c.id == bindparam("b_id"),
    payload=bindparam("b_payload", type_=_messages.c.payload.type),
    attempts=1,
    next_attempt_at=bindparam("b_delivered_at", type_=_messages.c.delivered_at.type),
    ledger_ref=bindparam("b_ledger_ref"),
    delivered_at=bindparam("b_delivered_at", type_=_messages.c.delivered_at.type),
    tax_receipt_no=bindparam("b_receipt"),
    entered_at=bindparam("b_entered_at", type_=_messages.c.entered_at.type),
    updated_at=bindparam("b_entered_at", type_=_messages.c.updated_at.type),
)
_ENTER = REGISTRATIONS.statement(
    "enter",
    _registrations.c.id == bindparam("b_registration_id"),
    select(_items.c.id)
    .where(
        _items.c.id == bindparam("b_item_id"),
        _items.c.held_registration_id == _registrations.c.id,
    )
    .exists(),
    tax_receipt_no=bindparam("b_receipt"),
    updated_at=bindparam("b_entered_at", type_=_registrations.c.updated_at.type),
)
_AUDIT_ENTERED = audit.entry_statement(
    "ledger.treasury_entered",
    occurred_at=bindparam("b_entered_at", type_=_messages.c.updated_at.type),
    target_param="b_message_id",
    region_code=bindparam("b_region", type_=PaymentOrder.__table__.c.county_code.type),
)


def confirm_entries(
    open_session: Callable[[], Session], orders: tuple[PlannedOrder, ...]
) -> tuple[int, date | None]:
    """(messages confirmed, the first entry day written); `open_session` gives a unit of work's
    session, one transaction per group of orders."""
    planned = {
        (order.order_no, entry.registration_ref): (order, entry)
        for order in orders
        for entry in order.entries
    }
    numbers = sorted({order_no for order_no, _ in planned})
    confirmed, first = 0, None
    for start in range(0, len(numbers), ORDERS_PER_TRANSACTION):
        with open_session() as session:
            connection = session.connection()
            rows = [
                (row, *planned[(row.order_no, row.ref)])
                for row in _pending(connection, numbers[start : start + ORDERS_PER_TRANSACTION])
                if (row.order_no, row.ref) in planned
            ]
            if not rows:
                continue
            values = [_values(row, order, entry) for row, order, entry in rows]
            execute_compiled_many(connection, _DELIVER_AND_CONFIRM, values)
            connection.execute(
                insert(LedgerAttempt.__table__),
                [
                    {
                        "message_id": v["b_id"],
                        "attempted_at": v["b_delivered_at"],
                        "worker": WORKER,
                        "http_status": 200,
                        "outcome": "delivered",
                        "duration_ms": 12,
                    }
                    for v in values
                ],
            )
            execute_compiled_many(connection, _ENTER, values)
            for v in values:
                entered(
                    session, day=day_of(v["b_entered_at"]), registration_id=v["b_registration_id"]
                )
            execute_compiled_many(connection, _AUDIT_ENTERED, values)
            confirmed += len(values)
            days = [day_of(entry.entered_at) for _, _, entry in rows]
            first = min(days) if first is None else min(first, *days)
    return confirmed, first


def _pending(connection: Connection, order_numbers: list[str]):
    """The payment messages of these orders still pending, with what their body names; only
    those whose registration is still paid by the message's item."""
    return connection.execute(
        select(
            LedgerMessage.id,
            LedgerMessage.message_id,
            LedgerMessage.registration_id,
            LedgerMessage.order_item_id,
            PaymentOrder.order_no,
            PaymentOrder.county_code,
            PaymentOrder.paid_at,
            PaymentOrder.trade_type,
            PaymentOrder.channel,
            PaymentOrder.transaction_id,
            OrderItem.amount_fen,
            Registration.ref,
            Registration.collection_no,
            Registration.scheme,
            Registration.period_year,
            Enrollee.id_sealed,
            Enrollee.name,
        )
        .join(OrderItem, OrderItem.id == LedgerMessage.order_item_id)
        .join(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
        .join(Registration, Registration.id == OrderItem.held_registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            is_in(connection, PaymentOrder.order_no, order_numbers),
            LedgerMessage.kind == "payment",
            LedgerMessage.status == MessageStatus.PENDING.value,
            Registration.status == RegistrationStatus.PAID.value,
        )
        .order_by(LedgerMessage.id)
    ).all()


def _values(row, order: PlannedOrder, entry: PlannedEntry) -> dict:
    delivered_at = order.notified_at + timedelta(
        seconds=random.Random(entry.ledger_ref).randint(5, 40)
    )
    return {
        "b_id": row.id,
        "b_message_id": row.message_id,
        "b_registration_id": row.registration_id,
        "b_item_id": row.order_item_id,
        "b_payload": _body(row),
        "b_ledger_ref": entry.ledger_ref,
        "b_delivered_at": delivered_at,
        "b_receipt": entry.tax_receipt_no,
        "b_entered_at": entry.entered_at,
        "b_region": row.county_code,
        "b_actor": CONFIRMED_BY,
        "b_detail": {"ledger_ref": entry.ledger_ref, "tax_receipt_no": entry.tax_receipt_no},
    }


def _body(row) -> dict:
    """The payment message's body as the worker sends it (design.md section 8; the worker's own
    builder, backend.ledger.outbox._payload, reads one message at a time through the ORM)."""
    return {
        "message_id": row.message_id,
        "collection_no": row.collection_no,
        "id_sealed": row.id_sealed,  # kept sealed, as the worker keeps it
        "name": row.name,
        "scheme": row.scheme,
        "period_year": row.period_year,
        "amount_fen": row.amount_fen,
        "paid_at": row.paid_at.isoformat() if row.paid_at else None,
        "channel": order_channel(row.channel, row.trade_type),
        "order_no": row.order_no,
        "transaction_id": row.transaction_id,
    }
