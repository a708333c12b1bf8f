"""The collector batch's state machine, pure (the work plan's section 五).

    open ──close (the agency makes the 单据号)──▶ closed ──declare (the bureau accepted some)──▶ declared
    closed ──refuse (the bureau refused every registration)──▶ refused
    declared ──enter (every accepted registration entered the treasury)──▶ entered
    entered ──book (the exchange acknowledged the booking details)──▶ booked
    open, closed ──cancel (before the declaration)──▶ cancelled

A collecting unit records local payments in its open batch (each registration held, as an order
holds it); the agency closes it; the worker declares it to the bureau; the bureau confirms the
treasury entries of the registrations it accepted; the worker pushes the booking details to the
data exchange platform. Cancelling, and the bureau's refusals, release the holds.
"""

from __future__ import annotations

from enum import StrEnum

from backend.states.machine import Machine, move


class CollectorBatchStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    DECLARED = "declared"
    REFUSED = "refused"
    ENTERED = "entered"
    BOOKED = "booked"
    CANCELLED = "cancelled"


S = CollectorBatchStatus

COLLECTOR_BATCH = Machine(
    "collector batch",
    CollectorBatchStatus,
    [
        move("close", S.OPEN, S.CLOSED),
        move("declare", S.CLOSED, S.DECLARED),
        move("refuse", S.CLOSED, S.REFUSED),
        move("enter", S.DECLARED, S.ENTERED),
        move("book", S.ENTERED, S.BOOKED),
        move("cancel", (S.OPEN, S.CLOSED), S.CANCELLED),
    ],
)

# What each status means to the people reading it (dashboard, files).
STATUS_LABELS = {
    S.OPEN: "收缴中",
    S.CLOSED: "已生成单据号，待申报",
    S.DECLARED: "税务已受理，待入库",
    S.REFUSED: "税务全部退回",
    S.ENTERED: "已入库，待推送记账明细",
    S.BOOKED: "已记账",
    S.CANCELLED: "已作废",
}


class ItemOutcome(StrEnum):
    """Where one registration of a batch stands."""

    RECORDED = "recorded"  # the collector recorded its payment; held
    ACCEPTED = "accepted"  # the bureau accepted it in the declaration; held
    REFUSED = "refused"  # the bureau refused it (with its reason); released
    ENTERED = "entered"  # credited (channel collector) and entered in the treasury
    CANCELLED = "cancelled"  # its batch was cancelled; released
