"""The registration, refund and ledger message machines: the moves production makes, and only
those."""

from __future__ import annotations

import pytest

from backend.states.ledger import LEDGER_MESSAGE, MessageStatus
from backend.states.machine import IllegalMove
from backend.states.refunds import REFUND, RefundStatus
from backend.states.registrations import REGISTRATION, RegistrationStatus

R = RegistrationStatus


def test_a_registration_is_held_paid_entered_and_given_back_in_that_order():
    status = R.UNPAID
    for event, expected in [
        ("hold", R.PENDING),
        ("credit", R.PAID),
        ("enter", R.TREASURY_ENTERED),
        ("give_back", R.UNPAID),
    ]:
        status = REGISTRATION.after(status, event)
        assert status is expected


def test_a_closed_order_releases_its_hold_and_a_late_payment_still_credits():
    assert REGISTRATION.after(R.PENDING, "release") is R.UNPAID
    assert REGISTRATION.after(R.UNPAID, "credit") is R.PAID


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (R.PAID, "hold"),  # a paid registration cannot be ordered again
        (R.PENDING, "hold"),  # nor one held by another order
        (R.TREASURY_ENTERED, "credit"),  # nor credited twice
        (R.UNPAID, "enter"),  # nor entered before it is paid
        (R.PENDING, "give_back"),  # nor given back before it is paid
    ],
)
def test_moves_that_would_lose_or_double_money_do_not_exist(status, event):
    with pytest.raises(IllegalMove):
        REGISTRATION.after(status, event)


def test_a_refund_finishes_once_whichever_report_comes_first():
    for start in (RefundStatus.REQUESTED, RefundStatus.PROCESSING):
        assert REFUND.after(start, "succeed") is RefundStatus.SUCCEEDED
        assert REFUND.after(start, "fail") is RefundStatus.FAILED
    for finished in (RefundStatus.SUCCEEDED, RefundStatus.FAILED):
        for event in ("accept", "succeed", "fail"):
            with pytest.raises(IllegalMove):
                REFUND.after(finished, event)


def test_a_dead_letter_goes_back_in_line_only_when_an_operator_resends_it():
    assert LEDGER_MESSAGE.after(MessageStatus.PENDING, "bury") is MessageStatus.DEAD
    assert LEDGER_MESSAGE.after(MessageStatus.DEAD, "resend") is MessageStatus.PENDING
    with pytest.raises(IllegalMove):
        LEDGER_MESSAGE.after(MessageStatus.DELIVERED, "resend")
