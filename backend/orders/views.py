"""Orders as plain data, read in three queries however many orders (the API shapes them).

A view carries full names and village codes: the API masks the names, and decides with the
village codes which staff may read an order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from backend.models import Enrollee, LedgerMessage, OrderItem, PaymentOrder, Refund, Registration
from backend.states.orders import OrderStatus
from backend.states.refunds import RefundStatus


@dataclass(frozen=True)
class ItemView:
    registration_ref: str
    holder_name: str
    village_code: str
    scheme: str
    period_year: int
    grade_yuan: int | None
    amount_fen: int
    gov_paid_fen: int
    contribution_subsidy_fen: int
    ledger_state: str = "none"  # none | pending | delivered | dead | treasury_entered
    tax_receipt_no: str | None = None
    refunded_fen: int = 0
    item_id: int = 0  # the order item's id: what its receipt's token names


@dataclass(frozen=True)
class OrderView:
    order_no: str
    openid: str
    status: str
    status_reason: str | None
    trade_type: str
    total_fen: int
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    transaction_id: str | None
    code_url: str | None
    pay_params: dict[str, Any] | None
    items: tuple[ItemView, ...]

    def payable(self, now: datetime) -> bool:
        """Open and not expired: the payer may still pay it."""
        return self.status == OrderStatus.CREATED and self.expires_at > now


_ORDER_COLUMNS = (
    PaymentOrder.id,
    PaymentOrder.order_no,
    PaymentOrder.openid,
    PaymentOrder.status,
    PaymentOrder.status_reason,
    PaymentOrder.trade_type,
    PaymentOrder.total_fen,
    PaymentOrder.created_at,
    PaymentOrder.expires_at,
    PaymentOrder.paid_at,
    PaymentOrder.transaction_id,
    PaymentOrder.code_url,
    PaymentOrder.pay_params,
)


def order_views(
    session: Session,
    *where: ColumnElement[bool],
    newest_first: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> list[OrderView]:
    """The orders `where` selects, with every item's person, ledger state and refunds."""
    query = select(*_ORDER_COLUMNS).where(*where)
    if newest_first:
        query = query.order_by(PaymentOrder.created_at.desc(), PaymentOrder.id.desc())
    orders = session.execute(query.offset(offset).limit(limit)).all()
    items = _items(session, [order.id for order in orders])
    return [
        OrderView(
            **{
                name: getattr(order, name)
                for name in OrderView.__dataclass_fields__
                if name != "items"
            },
            items=tuple(items.get(order.id, ())),
        )
        for order in orders
    ]


def _items(session: Session, order_ids: Sequence[int]) -> dict[int, list[ItemView]]:
    if not order_ids:
        return {}
    rows = session.execute(
        select(OrderItem, Registration.ref, Registration.village_code, Enrollee.name)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(OrderItem.order_id.in_(order_ids))
        .order_by(OrderItem.id)
    ).all()
    item_ids = [row.OrderItem.id for row in rows]
    ledger = {
        row.order_item_id: row
        for row in session.execute(
            select(
                LedgerMessage.order_item_id, LedgerMessage.status, LedgerMessage.tax_receipt_no
            ).where(LedgerMessage.order_item_id.in_(item_ids), LedgerMessage.kind == "payment")
        )
    }
    refunded = dict(
        session.execute(
            select(Refund.order_item_id, func.sum(Refund.amount_fen))
            .where(
                Refund.order_item_id.in_(item_ids), Refund.status == RefundStatus.SUCCEEDED.value
            )
            .group_by(Refund.order_item_id)
        ).all()
    )
    found: dict[int, list[ItemView]] = {}
    for item, ref, village_code, name in rows:
        message = ledger.get(item.id)
        found.setdefault(item.order_id, []).append(
            ItemView(
                registration_ref=ref,
                holder_name=name,
                village_code=village_code,
                scheme=item.scheme,
                period_year=item.period_year,
                grade_yuan=item.grade_yuan,
                amount_fen=item.amount_fen,
                gov_paid_fen=item.gov_paid_fen,
                contribution_subsidy_fen=item.contribution_subsidy_fen,
                ledger_state=ledger_state(message),
                tax_receipt_no=message.tax_receipt_no if message else None,
                refunded_fen=refunded.get(item.id, 0),
                item_id=item.id,
            )
        )
    return found


def ledger_state(message: Any) -> str:
    """none (not paid), pending, delivered, dead, or treasury_entered once the bureau confirmed."""
    if message is None:
        return "none"
    return "treasury_entered" if message.tax_receipt_no else message.status
