"""The bureau confirms the treasury entries of a declaration: `POST /api/tax/v1/declaration-entries`.

`{declaration_no, entries: [{collection_no, tax_receipt_no, entered_at}]}`, signed as the bureau's
other callbacks. All in one transaction under the batch's row lock, so two deliveries of the same
entries apply once: each registration the bureau accepted is credited (unpaid-or-pending -> paid,
channel collector) and entered (treasury_entered, with its receipt number) while its batch item
still holds it, counted in the progress journal (paid and entered), and its item keeps the receipt.
When every accepted registration is entered, the batch moves declared -> entered and the worker
pushes its booking details. An entry already recorded with the same receipt changes nothing (the
bureau retries until we answer 200); any entry we cannot take (an unknown or refused
registration, another receipt) refuses the whole call and applies nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from backend.errors import Conflict, Refused
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import CollectorBatch, CollectorBatchItem, Registration
from backend.orders.channels import COLLECTOR
from backend.progress import journal
from backend.states.collectors import CollectorBatchStatus, ItemOutcome
from backend.states.transitions import COLLECTOR_BATCHES, REGISTRATIONS

log = logging.getLogger(__name__)

TAKES_ENTRIES = (
    CollectorBatchStatus.DECLARED.value,
    CollectorBatchStatus.ENTERED.value,
    CollectorBatchStatus.BOOKED.value,
)


@dataclass(frozen=True)
class Entry:
    collection_no: str
    tax_receipt_no: str
    entered_at: datetime


@dataclass(frozen=True)
class Recorded:
    recorded: int  # entries new to us
    already: int  # entries we had, with the same receipt
    batch_entered: bool  # this call completed the batch


def record_entries(
    uow: UnitOfWork, declaration_no: str, entries: list[Entry], *, now: datetime
) -> Recorded:
    """Refused for an unknown declaration or registration; Conflict for a batch not declared or
    an entry that already has another receipt number."""
    with uow as session:
        batch = session.scalar(
            select(CollectorBatch)
            .where(CollectorBatch.declaration_no == declaration_no)
            .with_for_update()
        )
        if batch is None:
            raise Refused(f"unknown declaration {declaration_no}", reason="unknown_declaration")
        if batch.status not in TAKES_ENTRIES:
            raise Conflict(
                f"declaration {declaration_no} is {batch.status}, not declared",
                reason="not_declared",
            )
        items = {
            item.collection_no: item
            for item in session.scalars(
                select(CollectorBatchItem).where(CollectorBatchItem.batch_id == batch.id)
            )
        }
        new = _check(declaration_no, entries, items)
        for entry in new:
            item = items[entry.collection_no]
            holds = Registration.id == item.held_registration_id
            credited = REGISTRATIONS.apply(
                session, "credit", holds, values={"paid_channel": COLLECTOR, "updated_at": now}
            )
            entered = REGISTRATIONS.apply(
                session,
                "enter",
                holds,
                values={"tax_receipt_no": entry.tax_receipt_no, "updated_at": now},
            )
            if not (credited and entered):  # every status move also moves its hold: cannot be
                raise Conflict(
                    f"registration {entry.collection_no} is no longer held by {declaration_no}",
                    reason="not_held",
                )
            item.outcome = ItemOutcome.ENTERED.value
            item.tax_receipt_no = entry.tax_receipt_no
            item.entered_at = entry.entered_at
        session.flush()
        if new:
            journal.collector_entered(
                session, [items[e.collection_no].id for e in new], journal.day_of(now)
            )
            audit.record(
                session,
                actor="tax-bureau",
                action="collector_batch.entries",
                region_code=batch.county_code,
                target=declaration_no,
                detail={"entered": len(new)},
            )
        waiting = [i for i in items.values() if i.outcome == ItemOutcome.ACCEPTED.value]
        done = (
            bool(new)
            and not waiting
            and bool(
                COLLECTOR_BATCHES.apply(
                    session,
                    "enter",
                    CollectorBatch.id == batch.id,
                    values={
                        "entered_at": now,
                        "next_attempt_at": now,  # the worker pushes the booking details next
                        "attempts": 0,
                        "last_error": None,
                        "updated_at": now,
                    },
                    audit_note=audit.Note(
                        actor="tax-bureau",
                        action="collector_batch.entered",
                        region_code=batch.county_code,
                        target=declaration_no,
                        detail={"entered": sum(1 for i in items.values() if i.tax_receipt_no)},
                    ),
                )
            )
        )
        return Recorded(len(new), len(entries) - len(new), done)


def _check(
    declaration_no: str, entries: list[Entry], items: dict[str, CollectorBatchItem]
) -> list[Entry]:
    """The entries new to us; Refused or Conflict for any we cannot take."""
    seen: set[str] = set()
    new = []
    for entry in entries:
        item = items.get(entry.collection_no)
        if entry.collection_no in seen:
            raise Refused(f"{entry.collection_no} is entered twice", reason="repeated_entry")
        seen.add(entry.collection_no)
        if item is None or item.outcome not in (
            ItemOutcome.ACCEPTED.value,
            ItemOutcome.ENTERED.value,
        ):
            raise Refused(
                f"{entry.collection_no} is not an accepted registration of {declaration_no}",
                reason="unknown_registration",
            )
        if item.outcome == ItemOutcome.ENTERED.value:
            if item.tax_receipt_no != entry.tax_receipt_no:
                raise Conflict(
                    f"{entry.collection_no} already has another receipt", reason="other_receipt"
                )
            continue
        new.append(entry)
    return new
