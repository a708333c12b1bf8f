"""Matching a day's bill against our records (design.md section 9). Pure: plain data in and out.

Our side is keyed by out_trade_no (our order_no); the bill is streamed once and each row is popped
from our side as it matches, so memory holds our day's payments, never the whole bill. What is left
on our side afterwards is missing from the bill.

Kinds:
- missing_in_ours: WeChat took a payment we have not credited (usually a lost notification).
- missing_in_bill: we credited a payment the bill lacks; held for HOLD_DAYS (a payment near
  midnight can land in the next day's bill), then flagged.
- amount_mismatch: both sides have it, with different amounts.
- status_mismatch: a refund on one side only.
- duplicate_payment: a second successful payment for registrations another order already paid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

Kind = Literal[
    "missing_in_ours", "missing_in_bill", "amount_mismatch", "status_mismatch", "duplicate_payment"
]
HOLD_DAYS = 2


class BillLine(Protocol):
    """What matching needs of a bill row (backend.recon.bill.BillRow has it)."""

    out_trade_no: str
    transaction_id: str
    settlement_fen: int
    refund_fen: int

    @property
    def is_refund(self) -> bool: ...


@dataclass(frozen=True)
class OurPayment:
    order_no: str
    transaction_id: str | None
    paid_fen: int | None  # None: we never credited it (created, closed)
    status: str  # our order status: created, paid, closed, refund_due, refunded
    refunded_fen: int = 0
    paid_on: date | None = None  # the Beijing date we credited it


@dataclass(frozen=True)
class Discrepancy:
    kind: Kind
    order_no: str
    transaction_id: str | None
    ours_fen: int | None
    bill_fen: int | None
    held: bool = False  # missing_in_bill still inside its hold window


@dataclass
class Outcome:
    matched: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)

    def of(self, kind: Kind) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.kind == kind]


CREDITED = ("paid", "treasury_entered", "refunded")


def match(
    bill: Iterable[BillLine], ours: Mapping[str, OurPayment], *, day: date, today: date
) -> Outcome:
    """Classify every bill row and every credited payment of ours for `day`."""
    outcome = Outcome()
    waiting = {number: payment for number, payment in ours.items()}
    bill_refunds: dict[str, int] = {}
    for row in bill:
        if row.is_refund:
            bill_refunds[row.out_trade_no] = bill_refunds.get(row.out_trade_no, 0) + row.refund_fen
            continue
        payment = waiting.pop(row.out_trade_no, None)
        found = _payment(row, payment)
        outcome.discrepancies.extend(found)
        outcome.matched += not found
    for number, refunded in bill_refunds.items():
        payment = ours.get(number)
        if payment is None or payment.refunded_fen != refunded:
            outcome.discrepancies.append(
                Discrepancy(
                    "status_mismatch",
                    number,
                    payment.transaction_id if payment else None,
                    payment.refunded_fen if payment else None,
                    refunded,
                )
            )
    for payment in waiting.values():
        if payment.paid_fen is None or payment.status not in CREDITED:
            continue
        held = (today - day).days <= HOLD_DAYS
        outcome.discrepancies.append(
            Discrepancy(
                "missing_in_bill",
                payment.order_no,
                payment.transaction_id,
                payment.paid_fen,
                None,
                held=held,
            )
        )
    return outcome


def _payment(row: BillLine, payment: OurPayment | None) -> list[Discrepancy]:
    if payment is None or payment.paid_fen is None:
        # Money WeChat took and we never credited: the fix is to ask WeChat and credit it.
        return [
            Discrepancy(
                "missing_in_ours", row.out_trade_no, row.transaction_id, None, row.settlement_fen
            )
        ]
    if payment.status == "refund_due":
        return [
            Discrepancy(
                "duplicate_payment",
                row.out_trade_no,
                row.transaction_id,
                payment.paid_fen,
                row.settlement_fen,
            )
        ]
    if payment.paid_fen != row.settlement_fen:
        return [
            Discrepancy(
                "amount_mismatch",
                row.out_trade_no,
                row.transaction_id,
                payment.paid_fen,
                row.settlement_fen,
            )
        ]
    return []
