"""Declaring closed batches to the tax bureau: `POST {TAX_LEDGER_URL}/declarations`.

The worker claims closed batches with a lease (sending.py), sends each one's declaration outside
any transaction, and applies the bureau's answer with the batch machine's guarded move: `declare`
when it accepted any registration, `refuse` when it refused them all. A refused registration is
released (unpaid again, so it can be collected or paid anew) and keeps the bureau's reason on its
batch item. The bureau down, or an answer that does not account for every registration sent, is a
failed attempt: the batch stays closed, shows the error, and is sent again on the retry schedule.
The bureau treats a declaration_no it already has as the same declaration and answers the same.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.collectors.closing import release
from backend.collectors.sending import Claimed, SendFailed, SendReport, back_off, claim
from backend.collectors.wire import Declarations
from backend.infra import audit, id_vault
from backend.infra.clock import Clock
from backend.infra.uow import UnitOfWork
from backend.ledger.pushes import pushed
from backend.models import (
    CollectingUnit,
    CollectorBatch,
    CollectorBatchItem,
    Enrollee,
    Registration,
)
from backend.states.collectors import CollectorBatchStatus, ItemOutcome
from backend.states.transitions import COLLECTOR_BATCHES
from backend.values.masking import mask_text

log = logging.getLogger(__name__)

# A batch is declared once the bureau has every registration in it (their pushes delivered), as a
# payment message waits for its registration's: the bureau refuses what it was never sent.
_EVERY_REGISTRATION_PUSHED = ~(
    select(CollectorBatchItem.id)
    .where(
        CollectorBatchItem.batch_id == CollectorBatch.id,
        ~pushed(CollectorBatchItem.registration_id),
    )
    .exists()
)

CLOSED = CollectorBatchStatus.CLOSED


@dataclass(frozen=True)
class Verdict:
    collection_no: str
    accepted: bool
    reason: str | None = None  # the bureau's code when refused (registration_unknown, ...)
    message: str | None = None  # and its words


def declare_due(
    uow: UnitOfWork,
    bureau: Declarations,
    *,
    clock: Clock,
    schedule: Sequence[int],
    lease: timedelta,
    limit: int = 20,
) -> SendReport:
    """One round: claim the due closed batches and declare each once."""
    report = SendReport()
    with uow as session:
        claimed = claim(
            session,
            CLOSED,
            now=clock.now(),
            limit=limit,
            lease=lease,
            body_of=declaration_body,
            body_column="declaration",
            ready=_EVERY_REGISTRATION_PUSHED,
        )
    for batch in claimed:
        try:
            answer = bureau.declare(batch.body)
            reference, verdicts = read_answer(answer, batch.body)
        except (SendFailed, ValueError) as exc:
            error = exc.message if isinstance(exc, SendFailed) else f"bureau answer unusable: {exc}"
            back_off(
                uow, batch, CLOSED, error, now=clock.now(), schedule=schedule, what="declaration"
            )
            report.failed += 1
            report.errors.append(error)
            continue
        _apply(uow, batch, reference, verdicts, now=clock.now())
        report.done += 1
    return report


def declaration_body(session: Session, batch: CollectorBatch) -> dict[str, Any]:
    """The declaration (docs: README "Collectors"): the batch under its 单据号, every registration."""
    unit = session.get(CollectingUnit, batch.unit_id)
    assert unit is not None
    rows = session.execute(
        select(CollectorBatchItem, Enrollee.id_sealed, Enrollee.name)
        .join(Registration, Registration.id == CollectorBatchItem.registration_id)
        .join(Enrollee, Enrollee.id == Registration.enrollee_id)
        .where(
            CollectorBatchItem.batch_id == batch.id,
            CollectorBatchItem.outcome == ItemOutcome.RECORDED.value,
        )
        .order_by(CollectorBatchItem.id)
    ).all()
    return {
        "declaration_no": batch.declaration_no,
        "county_code": batch.county_code,
        "collecting_unit": {"kind": unit.kind, "name": unit.name, "region_code": unit.region_code},
        "total_fen": batch.total_fen,
        "counts": {"pension": batch.pension_count or 0, "medical": batch.medical_count or 0},
        "registrations": [
            {
                "collection_no": item.collection_no,
                "id_number": id_vault.open_sealed(sealed),
                "name": name,
                "scheme": item.scheme,
                "period_year": item.period_year,
                "amount_fen": item.amount_fen,
                "grade_yuan": item.grade_yuan,
            }
            for item, sealed, name in rows
        ],
    }


def read_answer(answer: dict[str, Any], sent: dict[str, Any]) -> tuple[str | None, list[Verdict]]:
    """(the bureau's reference, one verdict per registration sent). ValueError unless the answer
    is about this declaration and gives exactly one verdict for each registration sent."""
    if answer.get("declaration_no") != sent["declaration_no"]:
        raise ValueError("it names another declaration_no")
    results = answer.get("results")
    if not isinstance(results, list):
        raise ValueError("no results list")
    verdicts = []
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("collection_no"), str):
            raise ValueError("a result without its collection_no")
        outcome = result.get("outcome")
        if outcome not in ("accepted", "refused"):
            raise ValueError(f"outcome {outcome!r} for {result['collection_no']}")
        reason, message = result.get("reason"), result.get("message")
        if outcome == "refused" and not (isinstance(reason, str) and reason):
            raise ValueError(f"{result['collection_no']} refused without a reason")
        verdicts.append(
            Verdict(
                result["collection_no"],
                outcome == "accepted",
                str(reason)[:40] if reason else None,
                str(message)[:255] if message else None,
            )
        )
    answered = [v.collection_no for v in verdicts]
    expected = sorted(r["collection_no"] for r in sent["registrations"])
    if sorted(answered) != expected:
        raise ValueError("its results do not match the registrations declared one for one")
    reference = answer.get("declaration_ref")
    return (str(reference)[:64] if reference else None), verdicts


def _apply(
    uow: UnitOfWork, batch: Claimed, reference: str | None, verdicts: list[Verdict], *, now
) -> None:
    accepted = [v.collection_no for v in verdicts if v.accepted]
    refused = [v for v in verdicts if not v.accepted]
    event = "declare" if accepted else "refuse"
    with uow as session:
        won = COLLECTOR_BATCHES.apply(
            session,
            event,
            CollectorBatch.id == batch.id,
            values={
                "declared_at": now,
                "declaration_ref": reference,
                "accepted_count": len(accepted),
                "refused_count": len(refused),
                "lease_until": None,
                "last_error": None,
                "attempts": 0,
                "next_attempt_at": None,
                "updated_at": now,
            },
            audit_note=audit.Note(
                actor="tax-bureau",
                action="collector_batch.declared" if accepted else "collector_batch.refused",
                region_code=batch.county_code,
                target=batch.declaration_no,
                detail={"accepted": len(accepted), "refused": len(refused)},
            ),
        )
        if not won:  # cancelled once our lease ran out: nothing of the answer applies
            log.warning(
                "collector batch %s: the bureau's answer came after it left closed", batch.batch_no
            )
            return
        for at in range(0, len(accepted), 900):  # bounded IN lists (SQLite's parameter limit)
            session.execute(
                update(CollectorBatchItem)
                .where(
                    CollectorBatchItem.batch_id == batch.id,
                    CollectorBatchItem.collection_no.in_(accepted[at : at + 900]),
                )
                .values(outcome=ItemOutcome.ACCEPTED.value),
                execution_options={"synchronize_session": False},
            )
        for verdict in refused:
            release(
                session,
                batch.id,
                outcome=ItemOutcome.REFUSED,
                now=now,
                only=CollectorBatchItem.collection_no == verdict.collection_no,
                refusal_reason=verdict.reason,
                # The bureau's words are kept, without an ID number they may quote.
                refusal_note=mask_text(verdict.message) if verdict.message else verdict.message,
            )
    log.info(
        "collector batch %s (%s): %d accepted, %d refused by the bureau",
        batch.batch_no,
        batch.declaration_no,
        len(accepted),
        len(refused),
    )
