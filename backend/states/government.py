"""The government-paid batch's state machine, pure.

    draft ──confirm (the agency confirms finance paid it)──▶ confirmed
    draft ──cancel──▶ cancelled

A draft lists the registrations the government pays in full and their amounts; confirming it
credits them (channel government) and writes their tax ledger messages, once.
"""

from __future__ import annotations

from enum import StrEnum

from backend.states.machine import Machine, move


class BatchStatus(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


GOVERNMENT_BATCH = Machine(
    "government batch",
    BatchStatus,
    [
        move("confirm", BatchStatus.DRAFT, BatchStatus.CONFIRMED),
        move("cancel", BatchStatus.DRAFT, BatchStatus.CANCELLED),
    ],
)
