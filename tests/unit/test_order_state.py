"""The order state machine: a payment is credited at most once and never lost."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.states.machine import IllegalMove
from backend.states.orders import MONEY_TAKEN, ORDER, OrderStatus, on_payment

# An event is ("pay", amount_matches, registrations_free) or ("expire",).
payments = st.tuples(st.just("pay"), st.booleans(), st.booleans())
events = st.lists(st.one_of(payments, st.just(("expire",))), max_size=12)


def run(history):
    """Fold events over a new order, as production does: on_payment decides which move, the
    table says where it leads; expiry is the machine's `close`, taken only where it leaves from.
    Returns (final status, credits, moves taken)."""
    status, credits, moves = OrderStatus.CREATED, 0, []
    for event in history:
        if event[0] == "pay":
            decision = on_payment(status, amount_matches=event[1], registrations_free=event[2])
            credits += decision.credit
            move = decision.event
        else:
            move = "close" if status in ORDER["close"].sources else None
        if move is not None:
            target = ORDER.after(status, move)
            moves.append((status, target))
            status = target
    return status, credits, moves


@given(events)
def test_an_order_is_credited_at_most_once(history):
    _, credits, _ = run(history)
    assert credits <= 1


@given(events)
def test_every_move_is_one_the_table_allows(history):
    _, _, moves = run(history)
    assert all(ORDER.can(source, target) for source, target in moves)


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
    assert (decision.event, decision.target, decision.credit) == ("pay", OrderStatus.PAID, True)


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


def test_money_taken_is_what_payments_lead_to_and_what_refunds_leave():
    assert {OrderStatus.PAID, OrderStatus.REFUND_DUE, OrderStatus.REFUNDED} == MONEY_TAKEN


def test_a_move_from_a_state_it_does_not_leave_is_a_bug_not_a_refusal():
    with pytest.raises(IllegalMove):
        ORDER.after(OrderStatus.PAID, "close")
    with pytest.raises(IllegalMove):
        ORDER["ship"]


def test_every_state_is_reachable_from_created():
    reached, frontier = {OrderStatus.CREATED}, [OrderStatus.CREATED]
    while frontier:
        source = frontier.pop()
        for move in ORDER.moves:
            if source in move.sources and move.target not in reached:
                reached.add(move.target)
                frontier.append(move.target)
    assert reached == set(OrderStatus)
