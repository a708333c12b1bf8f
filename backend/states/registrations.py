"""The registration state machine, pure.

    unpaid ──hold (an order takes it)──▶ pending ──release (the order closed)──▶ unpaid
    unpaid, pending ──credit (its payment recorded)──▶ paid ──enter (treasury confirmed)──▶ treasury_entered
    paid, treasury_entered ──give_back (its whole payment refunded)──▶ unpaid

A closed order paid late credits registrations it no longer holds (unpaid). A registration whose
payment is given back in full is unpaid again, so the person may pay anew.
"""

from __future__ import annotations

from enum import StrEnum

from backend.states.machine import Machine, move


class RegistrationStatus(StrEnum):
    UNPAID = "unpaid"
    PENDING = "pending"
    PAID = "paid"
    TREASURY_ENTERED = "treasury_entered"


REGISTRATION = Machine(
    "registration",
    RegistrationStatus,
    [
        move("hold", RegistrationStatus.UNPAID, RegistrationStatus.PENDING),
        move("release", RegistrationStatus.PENDING, RegistrationStatus.UNPAID),
        move(
            "credit",
            (RegistrationStatus.UNPAID, RegistrationStatus.PENDING),
            RegistrationStatus.PAID,
        ),
        move("enter", RegistrationStatus.PAID, RegistrationStatus.TREASURY_ENTERED),
        move(
            "give_back",
            (RegistrationStatus.PAID, RegistrationStatus.TREASURY_ENTERED),
            RegistrationStatus.UNPAID,
        ),
    ],
)

# Paid, whether or not the bureau has confirmed the treasury entry yet.
PAID_UP = frozenset({RegistrationStatus.PAID, RegistrationStatus.TREASURY_ENTERED})
