"""Matching a day's bill against our records (design.md section 9). Pure: plain data in and out.

Our side is keyed by out_trade_no (our order_no); the bill is streamed once and each row is popped
from our side as it matches, so memory holds our day's payments, never the whole bill. What is left
on our side afterwards is missing from the bill.

Kinds:
- missing_in_ours: WeChat took a payment we have not credited (usually a lost notification).
- missing_in_bill: we credited a payment the bill lacks; held for HOLD_DAYS (a payment near
  midnight can land in the next day's bill), then flagged.
- amount_mismatch: both sides have it, with different amounts.
- status_mismatch: a refund on one side only (or of another amount), matched by out_refund_no:
  a day's bill carries the refunds that succeeded that day, whatever day the payment was.
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
    out_refund_no: str | None

    @property
    def is_refund(self) -> bool: ...


@dataclass(frozen=True)
class OurPayment:
    order_no: str
    transaction_id: str | None
    paid_fen: int | None  # None: we never credited it (created, closed)
    status: str  # our order status: created, paid, closed, refund_due, refunded
    paid_on: date | None = None  # the Beijing date we credited it


@dataclass(frozen=True)
class OurRefund:
    """A refund that succeeded on the day, by WeChat's success time."""

    refund_no: str
    order_no: str
    amount_fen: int


@dataclass(frozen=True)
class Discrepancy:
    kind: Kind
    order_no: str
    transaction_id: str | None
    ours_fen: int | None
    bill_fen: int | None
    held: bool = False  # missing_in_bill still inside its hold window
    refund_no: str = ""  # status_mismatch of a refund


@dataclass
class Outcome:
    matched: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)

    def of(self, kind: Kind) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.kind == kind]


CREDITED = ("paid", "refunded")


def match(
    bill: Iterable[BillLine],
    ours: Mapping[str, OurPayment],
    *,
    day: date,
    today: date,
    refunds: Mapping[str, OurRefund] | None = None,
) -> Outcome:
    """Classify every bill row, every credited payment of ours and every refund of ours for `day`.

    `ours`: the payments we credited (or marked for refund) on the day, keyed by order_no, plus
    any order the bill may name that we have not credited. `refunds`: our refunds that
    succeeded on the day, keyed by refund_no.
    """
    outcome = Outcome()
    waiting = dict(ours)
    refunds_waiting = dict(refunds or {})
    for row in bill:
        if row.is_refund:
            refund = refunds_waiting.pop(row.out_refund_no or "", None)
            if refund is None or refund.amount_fen != row.refund_fen:
                outcome.discrepancies.append(
                    Discrepancy(
                        "status_mismatch",
                        row.out_trade_no,
                        row.transaction_id,
                        refund.amount_fen if refund else None,
                        row.refund_fen,
                        refund_no=row.out_refund_no or "",
                    )
                )
            else:
                outcome.matched += 1
            continue
        payment = waiting.pop(row.out_trade_no, None)
        found = _payment(row, payment)
        outcome.discrepancies.extend(found)
        outcome.matched += not found
    for refund in refunds_waiting.values():  # given back here, never seen by WeChat's bill
        payment = ours.get(refund.order_no)
        outcome.discrepancies.append(
            Discrepancy(
                "status_mismatch",
                refund.order_no,
                payment.transaction_id if payment else None,
                refund.amount_fen,
                None,
                refund_no=refund.refund_no,
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
