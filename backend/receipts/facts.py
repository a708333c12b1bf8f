"""What a receipt says, read afresh from the order, its refunds and its tax ledger messages.

A receipt is never stored: its facts and its standing are read each time the page is opened, so
a refund or a reversal shows at once. An order item was credited when its payment message to the
tax bureau exists (written in the transaction that credited it, backend/orders/crediting.py);
an item of an order that was never credited (a duplicate payment) has no receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Enrollee, LedgerMessage, OrderItem, PaymentOrder, Refund, Registration
from backend.orders.channels import order_channel
from backend.receipts.tokens import Receipt
from backend.states.ledger import MessageStatus
from backend.states.refunds import RefundStatus
from backend.values.beijing import beijing_today
from backend.values.masking import mask_id_number, mask_name

# A receipt's standing, as the page says it.
VALID = "valid"  # the payment stands in full
PARTLY_REFUNDED = "partly_refunded"  # part of it was given back; the rest stands
REFUNDED = "refunded"  # all of it was given back: the payment no longer stands
UNKNOWN = "unknown"  # a well-signed token naming nothing we hold as it says (never issued so)


@dataclass(frozen=True)
class ReceiptFacts:
    item_id: int
    order_no: str
    name_masked: str
    id_number_masked: str
    scheme: str
    period_year: int
    grade_yuan: int | None
    amount_fen: int
    gov_paid_fen: int
    channel: str
    paid_at: datetime
    tax_receipt_no: str | None
    entered_at: datetime | None
    refunded_fen: int
    refunded_at: datetime | None
    reversed: bool  # the bureau accepted the reversal of the refunded payment (冲正)

    @property
    def receipt(self) -> Receipt:
        """The statement a token about this item signs."""
        return Receipt(self.item_id, self.amount_fen, beijing_today(self.paid_at))


def standing(facts: ReceiptFacts | None, stated: Receipt) -> str:
    """Whether the payment a (well-signed) token states still stands. Pure."""
    if facts is None or facts.receipt != stated:
        return UNKNOWN
    if facts.refunded_fen <= 0:
        return VALID
    if facts.refunded_fen < facts.amount_fen:
        return PARTLY_REFUNDED
    return REFUNDED


def read_facts(session: Session, item_id: int, open_id_number) -> ReceiptFacts | None:
    """The facts of a credited order item, or None. `open_id_number` opens a sealed ID number
    (the id vault); only its masked form leaves here."""
    row = session.execute(
        select(
            OrderItem,
            PaymentOrder.order_no,
            PaymentOrder.channel,
            PaymentOrder.trade_type,
            PaymentOrder.paid_at,
            Enrollee.name,
            Enrollee.id_sealed,
            LedgerMessage.tax_receipt_no,
            LedgerMessage.entered_at,
        )
        .join(PaymentOrder, PaymentOrder.id == OrderItem.order_id)
        .join(Registration, Registration.id == OrderItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .join(
            LedgerMessage,
            (LedgerMessage.order_item_id == OrderItem.id) & (LedgerMessage.kind == "payment"),
        )
        .where(OrderItem.id == item_id)
    ).first()
    if row is None or row.paid_at is None:
        return None
    item = row.OrderItem
    refunded_fen, refunded_at = session.execute(
        select(func.coalesce(func.sum(Refund.amount_fen), 0), func.max(Refund.succeeded_at)).where(
            Refund.order_item_id == item_id, Refund.status == RefundStatus.SUCCEEDED.value
        )
    ).one()
    reversed_ = session.scalar(
        select(func.count())
        .select_from(LedgerMessage)
        .where(
            LedgerMessage.order_item_id == item_id,
            LedgerMessage.kind == "reversal",
            LedgerMessage.status == MessageStatus.DELIVERED.value,
        )
    )
    return ReceiptFacts(
        item_id=item.id,
        order_no=row.order_no,
        name_masked=mask_name(row.name),
        id_number_masked=mask_id_number(open_id_number(row.id_sealed)),
        scheme=item.scheme,
        period_year=item.period_year,
        grade_yuan=item.grade_yuan,
        amount_fen=item.amount_fen,
        gov_paid_fen=item.gov_paid_fen,
        channel=order_channel(row.channel, row.trade_type),
        paid_at=row.paid_at,
        tax_receipt_no=row.tax_receipt_no,
        entered_at=row.entered_at,
        refunded_fen=int(refunded_fen or 0),
        refunded_at=refunded_at,
        reversed=bool(reversed_),
    )
