"""The order state machine: the table and the decision on a reported payment, pure.

    created ──pay──▶ paid
       │
       └─close──▶ closed ──pay_after_close (registrations still free)──▶ paid
                     └────mark_duplicate (registrations paid elsewhere)──▶ refund_due

    paid, refund_due ──refund (every item's payment given back)──▶ refunded

A payment WeChat reports is never dropped: it either credits the order or, when the registrations
were paid by another order in the meantime, marks this one for refund as a duplicate payment.
The refund rules (backend/refunds/rules.py) decide how much of an item may still be given back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backend.states.machine import Machine, move


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    CLOSED = "closed"
    REFUND_DUE = "refund_due"
    REFUNDED = "refunded"


ORDER = Machine(
    "order",
    OrderStatus,
    [
        move("pay", OrderStatus.CREATED, OrderStatus.PAID),
        move("close", OrderStatus.CREATED, OrderStatus.CLOSED),
        move("pay_after_close", OrderStatus.CLOSED, OrderStatus.PAID),
        move("mark_duplicate", OrderStatus.CLOSED, OrderStatus.REFUND_DUE),
        move("refund", (OrderStatus.PAID, OrderStatus.REFUND_DUE), OrderStatus.REFUNDED),
    ],
)

# Where money has been taken: every state an accepted payment leads to.
MONEY_TAKEN = frozenset(
    ORDER[event].target for event in ("pay", "pay_after_close", "mark_duplicate")
) | {OrderStatus.REFUNDED}


@dataclass(frozen=True)
class PaymentDecision:
    """What to do with a payment WeChat reports for an order."""

    event: str | None  # the order's move; None: nothing to change
    credit: bool  # mark the registrations paid and tell the tax ledger
    reason: str

    @property
    def target(self) -> OrderStatus | None:
        return ORDER[self.event].target if self.event else None


def on_payment(
    status: OrderStatus, *, amount_matches: bool, registrations_free: bool
) -> PaymentDecision:
    """Decide how a reported payment lands.

    `registrations_free`: none of the order's registrations is held or paid by another order.
    It only matters for a closed order, whose holds were released when it closed.
    """
    if not amount_matches:
        # Never credit an amount we did not ask for; an operator must look at it.
        return PaymentDecision(None, False, "amount_mismatch")
    if status in MONEY_TAKEN:
        return PaymentDecision(None, False, "already_recorded")
    if status is OrderStatus.CREATED:
        return PaymentDecision("pay", True, "paid")
    if registrations_free:
        return PaymentDecision("pay_after_close", True, "paid_after_close")
    return PaymentDecision("mark_duplicate", False, "duplicate_payment")
