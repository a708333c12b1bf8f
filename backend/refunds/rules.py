"""What may be given back, and what a finished refund changes: pure rules, no database or web.

A refund gives back part or all of one order item's payment. Money already given back or on its
way back (a refund in progress) cannot be asked for again, so the sum of refunds never exceeds
what was paid, and an item has at most one refund in progress at a time.

When a refund succeeds:
- for a credited order (paid), the bureau is told with a reversal message; once an item's whole
  payment is back, its registration is unpaid again, so the person can pay anew (at the right
  grade, say);
- for a duplicate payment (refund_due), nothing was credited or told to the bureau, so only the
  money moves;
- once every item of an order is fully given back, the order is refunded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from backend.errors import Conflict, Refused
from backend.states.orders import ORDER, OrderStatus
from backend.states.refunds import IN_PROGRESS, RefundStatus
from backend.values.money import yuan_text

Reason = Literal["duplicate_payment", "wrong_grade", "other"]
REASONS: tuple[Reason, ...] = ("duplicate_payment", "wrong_grade", "other")
# Counted against what is left to refund: given back, or on its way.
GIVEN_BACK = frozenset({RefundStatus.SUCCEEDED}) | IN_PROGRESS
# The orders whose money may be given back: those the order machine's `refund` leaves from.
REFUNDABLE_ORDERS = ORDER["refund"].sources
ONE_AT_A_TIME = "该缴费项已有一笔退款正在处理，请等它完成后再试。"


@dataclass(frozen=True)
class PastRefund:
    amount_fen: int
    status: RefundStatus


def refundable_fen(item_fen: int, past: Iterable[PastRefund]) -> int:
    """What is left to give back: paid minus what succeeded or is on its way."""
    return item_fen - sum(r.amount_fen for r in past if r.status in GIVEN_BACK)


def check_request(
    *, order_status: OrderStatus, item_fen: int, past: list[PastRefund], amount_fen: int | None
) -> int:
    """The amount to refund (all that is left when none is given); Conflict or Refused."""
    if order_status not in REFUNDABLE_ORDERS:
        raise Conflict(
            f"该订单状态为 {order_status.value}，没有可退的款项。", reason="not_refundable"
        )
    if any(r.status in IN_PROGRESS for r in past):
        raise Conflict(ONE_AT_A_TIME, reason="refund_in_progress")
    left = refundable_fen(item_fen, past)
    if left <= 0:
        raise Conflict("该缴费项已全额退款。", reason="fully_refunded")
    if amount_fen is None:
        return left
    if amount_fen <= 0:
        raise Refused("退款金额必须大于零。", reason="amount_not_positive", field="amount_fen")
    if amount_fen > left:
        raise Refused(
            f"退款金额超过可退金额：最多可退 {yuan_text(left)} 元。",
            reason="amount_over_refundable",
            field="amount_fen",
        )
    return amount_fen


@dataclass(frozen=True)
class RefundEffects:
    reversal: bool  # tell the bureau the money went back
    release_registration: bool  # the registration is unpaid again
    order_refunded: bool  # the order's every item is fully given back


def on_refund_succeeded(
    *, order_status: OrderStatus, item_fen: int, item_refunded_fen: int, order_fully_refunded: bool
) -> RefundEffects:
    """`item_refunded_fen`, `order_fully_refunded`: counting this refund as succeeded."""
    credited = order_status is OrderStatus.PAID
    return RefundEffects(
        reversal=credited,
        release_registration=credited and item_refunded_fen >= item_fen,
        order_refunded=order_fully_refunded and order_status in REFUNDABLE_ORDERS,
    )
