"""The refund rules: never more than was paid, one at a time, the right effects when done."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import Conflict, DomainError, Refused
from backend.refunds.rules import PastRefund, check_request, on_refund_succeeded
from backend.states.orders import OrderStatus
from backend.states.refunds import RefundStatus

PAID = OrderStatus.PAID


@given(
    st.integers(min_value=1, max_value=100_000),
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(min_value=-5, max_value=120_000)),
            st.sampled_from([RefundStatus.SUCCEEDED, RefundStatus.FAILED]),
        ),
        max_size=12,
    ),
)
def test_whatever_is_asked_the_refunds_never_exceed_the_payment(item_fen, asks):
    past: list[PastRefund] = []
    for amount, outcome in asks:
        try:
            granted = check_request(
                order_status=PAID, item_fen=item_fen, past=past, amount_fen=amount
            )
        except DomainError:
            continue
        assert granted > 0
        past.append(PastRefund(granted, outcome))
    assert sum(r.amount_fen for r in past if r.status is RefundStatus.SUCCEEDED) <= item_fen


def test_one_refund_at_a_time_and_only_of_money_taken():
    with pytest.raises(Conflict, match="正在处理"):
        check_request(
            order_status=PAID,
            item_fen=100,
            past=[PastRefund(10, RefundStatus.PROCESSING)],
            amount_fen=10,
        )
    for status in (OrderStatus.CREATED, OrderStatus.CLOSED, OrderStatus.REFUNDED):
        with pytest.raises(Conflict):
            check_request(order_status=status, item_fen=100, past=[], amount_fen=None)
    with pytest.raises(Refused, match=r"最多可退 0\.60 元") as caught:
        check_request(
            order_status=PAID,
            item_fen=100,
            past=[PastRefund(40, RefundStatus.SUCCEEDED)],
            amount_fen=61,
        )
    assert caught.value.reason == "amount_over_refundable"
    left = check_request(
        order_status=PAID, item_fen=100, past=[PastRefund(40, RefundStatus.FAILED)], amount_fen=None
    )
    assert left == 100  # a failed refund gave nothing back


def test_what_a_finished_refund_changes():
    partial = on_refund_succeeded(
        order_status=PAID, item_fen=100, item_refunded_fen=40, order_fully_refunded=False
    )
    assert (partial.reversal, partial.release_registration, partial.order_refunded) == (
        True,
        False,
        False,
    )
    full = on_refund_succeeded(
        order_status=PAID, item_fen=100, item_refunded_fen=100, order_fully_refunded=True
    )
    assert (full.reversal, full.release_registration, full.order_refunded) == (True, True, True)
    duplicate = on_refund_succeeded(
        order_status=OrderStatus.REFUND_DUE,
        item_fen=100,
        item_refunded_fen=100,
        order_fully_refunded=True,
    )
    # Never credited nor told to the bureau: only the money moves.
    assert (duplicate.reversal, duplicate.release_registration, duplicate.order_refunded) == (
        False,
        False,
        True,
    )
