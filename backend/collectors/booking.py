"""Pushing an entered batch's booking details (记账明细) to the data exchange platform:
`POST {EXCHANGE_URL}/bookings`, signed with EXCHANGE_SECRET, until the exchange acknowledges it.

Claimed with a lease and retried on the outbox's schedule like the declaration (sending.py); the
acknowledgement moves the batch entered -> booked (guarded). The booking_id (B + the 单据号) is
what the exchange deduplicates on, so a repeat after a lost answer books nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.collectors.sending import SendFailed, SendReport, back_off, claim
from backend.collectors.wire import Bookings
from backend.infra import audit, id_vault
from backend.infra.clock import Clock
from backend.infra.uow import UnitOfWork
from backend.models import (
    CollectingUnit,
    CollectorBatch,
    CollectorBatchItem,
    Enrollee,
    Registration,
)
from backend.states.collectors import CollectorBatchStatus, ItemOutcome
from backend.states.transitions import COLLECTOR_BATCHES
from backend.values.beijing import BEIJING

ENTERED = CollectorBatchStatus.ENTERED


def book_due(
    uow: UnitOfWork,
    exchange: Bookings,
    *,
    clock: Clock,
    schedule: Sequence[int],
    lease: timedelta,
    limit: int = 20,
) -> SendReport:
    """One round: claim the due entered batches and push each one's booking details once."""
    report = SendReport()
    with uow as session:
        claimed = claim(
            session,
            ENTERED,
            now=clock.now(),
            limit=limit,
            lease=lease,
            body_of=booking_body,
            body_column="booking",
        )
    for batch in claimed:
        try:
            answer = exchange.book(batch.body)
            ack = answer.get("ack_ref")
            if not isinstance(ack, str) or not ack:
                raise SendFailed("exchange answer has no ack_ref")
        except SendFailed as exc:
            back_off(
                uow, batch, ENTERED, exc.message, now=clock.now(), schedule=schedule, what="booking"
            )
            report.failed += 1
            report.errors.append(exc.message)
            continue
        now = clock.now()
        with uow as session:
            COLLECTOR_BATCHES.apply(
                session,
                "book",
                CollectorBatch.id == batch.id,
                values={
                    "booking_ref": ack[:64],
                    "booked_at": now,
                    "lease_until": None,
                    "last_error": None,
                    "next_attempt_at": None,
                    "updated_at": now,
                },
                audit_note=audit.Note(
                    actor="exchange",
                    action="collector_batch.booked",
                    region_code=batch.county_code,
                    target=batch.declaration_no,
                    detail={"ack_ref": ack[:64]},
                ),
            )
        report.done += 1
    return report


def booking_body(session: Session, batch: CollectorBatch) -> dict[str, Any]:
    """The booking details (docs: README "Collectors"): one line per registration entered."""
    unit = session.get(CollectingUnit, batch.unit_id)
    assert unit is not None
    rows = session.execute(
        select(CollectorBatchItem, Enrollee.id_sealed)
        .join(Registration, Registration.id == CollectorBatchItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            CollectorBatchItem.batch_id == batch.id,
            CollectorBatchItem.outcome == ItemOutcome.ENTERED.value,
        )
        .order_by(CollectorBatchItem.id)
    ).all()
    details = [
        {
            "collection_no": item.collection_no,
            "id_number": id_vault.open_sealed(sealed),
            "scheme": item.scheme,
            "period_year": item.period_year,
            "amount_fen": item.amount_fen,
            "tax_receipt_no": item.tax_receipt_no,
            "entered_at": item.entered_at.astimezone(BEIJING).isoformat()
            if item.entered_at
            else None,
        }
        for item, sealed in rows
    ]
    return {
        "booking_id": f"B{batch.declaration_no}",
        "declaration_no": batch.declaration_no,
        "county_code": batch.county_code,
        "collecting_unit": {"kind": unit.kind, "name": unit.name, "region_code": unit.region_code},
        "channel": "collector",
        "count": len(details),
        "total_fen": sum(d["amount_fen"] for d in details),
        "details": details,
    }
