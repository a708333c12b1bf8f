"""Orders as the resident API shows them (design.md section 6): masked names, no row ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Enrollee, LedgerMessage, PaymentOrder, Refund, Registration
from backend.states.orders import OrderStatus
from backend.values.masking import mask_name


def order_answers(
    session: Session,
    orders: list[PaymentOrder],
    *,
    now: datetime,
    qr_url: Callable[[PaymentOrder], str | None] = lambda order: None,
) -> list[dict[str, Any]]:
    """One answer per order, reading every item's registration and enrollee in one query."""
    ids = {item.registration_id for order in orders for item in order.items}
    rows = (
        session.execute(
            select(Registration.id, Registration.ref, Enrollee.name)
            .join(Enrollee, Enrollee.id == Registration.enrollee_id)
            .where(Registration.id.in_(ids))
        ).all()
        if ids
        else []
    )
    people = {row.id: (row.ref, row.name) for row in rows}
    item_ids = [item.id for order in orders for item in order.items]
    ledger = (
        {
            row.order_item_id: row
            for row in session.execute(
                select(
                    LedgerMessage.order_item_id, LedgerMessage.status, LedgerMessage.tax_receipt_no
                ).where(LedgerMessage.order_item_id.in_(item_ids), LedgerMessage.kind == "payment")
            )
        }
        if item_ids
        else {}
    )
    refunded = (
        dict(
            session.execute(
                select(Refund.order_item_id, func.sum(Refund.amount_fen))
                .where(Refund.order_item_id.in_(item_ids), Refund.status == "succeeded")
                .group_by(Refund.order_item_id)
            ).all()
        )
        if item_ids
        else {}
    )
    return [
        _answer(order, people, ledger, refunded, now=now, qr_url=qr_url(order)) for order in orders
    ]


def _ledger_state(row) -> str:
    """none (not paid), pending, delivered, dead, or treasury_entered once the bureau confirmed."""
    if row is None:
        return "none"
    return "treasury_entered" if row.tax_receipt_no else row.status


def _answer(
    order: PaymentOrder,
    people: dict[int, tuple[str, str]],
    ledger: dict[int, Any],
    refunded: dict[int, int],
    *,
    now: datetime,
    qr_url: str | None,
) -> dict[str, Any]:
    payable = order.status == OrderStatus.CREATED and order.expires_at > now
    pay: dict[str, Any] | None = None
    if payable and order.trade_type == "JSAPI" and order.pay_params:
        pay = dict(order.pay_params)
    elif payable and order.trade_type == "NATIVE" and order.code_url:
        pay = {"code_url": order.code_url, "qr_png_url": qr_url}
    return {
        "order_no": order.order_no,
        "status": order.status,
        "status_reason": order.status_reason,
        "trade_type": order.trade_type,
        "total_fen": order.total_fen,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
        "transaction_id": order.transaction_id,
        "items": [
            {
                "registration_ref": people[item.registration_id][0],
                "name_masked": mask_name(people[item.registration_id][1]),
                "scheme": item.scheme,
                "period_year": item.period_year,
                "grade_yuan": item.grade_yuan,
                "amount_fen": item.amount_fen,
                "gov_paid_fen": item.gov_paid_fen,
                "contribution_subsidy_fen": item.contribution_subsidy_fen,
                "ledger_state": _ledger_state(ledger.get(item.id)),
                "tax_receipt_no": ledger[item.id].tax_receipt_no if item.id in ledger else None,
                "refunded_fen": refunded.get(item.id, 0),
            }
            for item in order.items
        ],
        "pay": pay,
    }
