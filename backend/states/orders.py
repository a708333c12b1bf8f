"""The order state machine: pure decisions, no database, no web framework.

    created ──payment──▶ paid
       │
       └─expiry/close──▶ closed ──late payment, registrations still free──▶ paid
                            └─────late payment, registrations paid elsewhere──▶ refund_due

    paid, refund_due ──every item's payment given back──▶ refunded

A payment WeChat reports is never dropped: it either credits the order or, when the registrations
were paid by another order in the meantime, marks this one for refund as a duplicate payment.
The refund workflow (refund_rules.py) decides how much of an item may still be given back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    CLOSED = "closed"
    REFUND_DUE = "refund_due"
    REFUNDED = "refunded"


OPEN = frozenset({OrderStatus.CREATED})
# Where money has been taken: any state reachable after a payment.
MONEY_TAKEN = frozenset({OrderStatus.PAID, OrderStatus.REFUND_DUE, OrderStatus.REFUNDED})

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.CREATED: frozenset({OrderStatus.PAID, OrderStatus.CLOSED}),
    OrderStatus.CLOSED: frozenset({OrderStatus.PAID, OrderStatus.REFUND_DUE}),
    OrderStatus.PAID: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUND_DUE: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUNDED: frozenset(),
}


class IllegalTransition(Exception):
    pass


def can_move(source: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[source]


@dataclass(frozen=True)
class PaymentDecision:
    """What to do with a payment WeChat reports for an order."""

    target: OrderStatus | None  # None: nothing to change
    credit: bool  # mark the registrations paid (and, later, tell the tax ledger)
    reason: str


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
        return PaymentDecision(OrderStatus.PAID, True, "paid")
    if registrations_free:
        return PaymentDecision(OrderStatus.PAID, True, "paid_after_close")
    return PaymentDecision(OrderStatus.REFUND_DUE, False, "duplicate_payment")


def on_unpaid_expiry(status: OrderStatus) -> OrderStatus | None:
    """An order past its expiry that WeChat says is unpaid closes; any other state stays."""
    return OrderStatus.CLOSED if status is OrderStatus.CREATED else None
