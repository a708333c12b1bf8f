"""The tax ledger message state machine, pure.

pending ──deliver (the bureau accepted it)──▶ delivered
pending ──bury (every retry failed)──▶ dead ──resend (an operator)──▶ pending
"""

from __future__ import annotations

from enum import StrEnum

from backend.states.machine import Machine, move


class MessageStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


LEDGER_MESSAGE = Machine(
    "ledger message",
    MessageStatus,
    [
        move("deliver", MessageStatus.PENDING, MessageStatus.DELIVERED),
        move("bury", MessageStatus.PENDING, MessageStatus.DEAD),
        move("resend", MessageStatus.DEAD, MessageStatus.PENDING),
    ],
)
