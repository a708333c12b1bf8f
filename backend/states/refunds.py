"""The refund state machine, pure.

    requested ──accept (WeChat took it)──▶ processing
    requested, processing ──succeed──▶ succeeded
    requested, processing ──fail (refused, closed, or the money could not reach the payer)──▶ failed

A refund is written `requested` before WeChat hears of it. WeChat may report it finished before
our submit heard it was accepted, so success and failure leave from requested as well.
"""

from __future__ import annotations

from enum import StrEnum

from backend.states.machine import Machine, move


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


REFUND = Machine(
    "refund",
    RefundStatus,
    [
        move("accept", RefundStatus.REQUESTED, RefundStatus.PROCESSING),
        move("succeed", (RefundStatus.REQUESTED, RefundStatus.PROCESSING), RefundStatus.SUCCEEDED),
        move("fail", (RefundStatus.REQUESTED, RefundStatus.PROCESSING), RefundStatus.FAILED),
    ],
)

IN_PROGRESS = frozenset({RefundStatus.REQUESTED, RefundStatus.PROCESSING})
FINISHED = frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED})
