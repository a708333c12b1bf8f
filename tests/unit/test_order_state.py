"""The order state machine: a payment is credited at most once and never lost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.states.orders import (
    MONEY_TAKEN,
    OrderStatus,
    can_move,
    on_payment,
    on_unpaid_expiry,
)

# An event is ("pay", amount_matches, registrations_free) or ("expire",).
payments = st.tuples(st.just("pay"), st.booleans(), st.booleans())
events = st.lists(st.one_of(payments, st.just(("expire",))), max_size=12)


def run(history):
    """Fold events over a new order; return (final status, credits, transitions taken)."""
    status, credits, moves = OrderStatus.CREATED, 0, []
    for event in history:
        if event[0] == "pay":
            decision = on_payment(status, amount_matches=event[1], registrations_free=event[2])
            target, credits = decision.target, credits + decision.credit
        else:
            target = on_unpaid_expiry(status)
        if target is not None:
            moves.append((status, target))
            status = target
    return status, credits, moves


@given(events)
def test_an_order_is_credited_at_most_once(history):
    _, credits, _ = run(history)
    assert credits <= 1


@given(events)
def test_every_move_is_an_allowed_transition(history):
    _, _, moves = run(history)
    assert all(can_move(source, target) for source, target in moves)


@given(events)
def test_a_matching_payment_is_never_lost(history):
    status, credits, _ = run(history)
    if any(e[0] == "pay" and e[1] for e in history):
        assert status in MONEY_TAKEN
        # Credited, or kept for a refund: never closed with the money in limbo.
        assert credits == 1 or status is OrderStatus.REFUND_DUE


@given(events)
def test_money_taken_is_never_undone_by_expiry(history):
    status, _, _ = run([*history, ("expire",)])
    before, _, _ = run(history)
    if before in MONEY_TAKEN:
        assert status == before


def test_a_payment_for_a_created_order_credits_it():
    decision = on_payment(OrderStatus.CREATED, amount_matches=True, registrations_free=False)
    assert (decision.target, decision.credit) == (OrderStatus.PAID, True)


def test_a_late_payment_credits_a_closed_order_when_nothing_else_paid():
    decision = on_payment(OrderStatus.CLOSED, amount_matches=True, registrations_free=True)
    assert (decision.target, decision.credit, decision.reason) == (
        OrderStatus.PAID,
        True,
        "paid_after_close",
    )


def test_a_late_payment_for_registrations_paid_elsewhere_is_due_a_refund():
    decision = on_payment(OrderStatus.CLOSED, amount_matches=True, registrations_free=False)
    assert (decision.target, decision.credit, decision.reason) == (
        OrderStatus.REFUND_DUE,
        False,
        "duplicate_payment",
    )


def test_a_wrong_amount_changes_nothing():
    for status in OrderStatus:
        decision = on_payment(status, amount_matches=False, registrations_free=True)
        assert (decision.target, decision.credit) == (None, False)
