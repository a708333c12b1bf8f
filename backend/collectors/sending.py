"""What the declaration and the booking push share: claiming due batches with a lease, and
backing off when the other side does not accept.

A claim, in its own short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's BEGIN
IMMEDIATE serialises claims), takes the batches of one status whose next attempt is due and that
no worker holds, counts the attempt and leases them; the call goes out after it, outside any
transaction. A failure clears the lease and sets the next attempt by the tax ledger outbox's
schedule (LEDGER_RETRY_SCHEDULE), its last interval repeating once it runs out: a batch is never
given up, and its last error stays visible to staff. A worker that dies mid-call leaves the batch
to be sent again when its lease ends; both sides treat a repeat as the same message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from backend.infra import id_vault
from backend.infra.uow import UnitOfWork
from backend.models import CollectorBatch
from backend.states.collectors import CollectorBatchStatus
from backend.values.masking import mask_text

log = logging.getLogger(__name__)


class SendFailed(Exception):
    """The other side did not take it; `http_status` when it answered at all."""

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


@dataclass(frozen=True)
class Claimed:
    id: int
    batch_no: str
    declaration_no: str
    county_code: str
    attempts: int
    body: dict[str, Any]


@dataclass
class SendReport:
    done: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.done or self.failed)


def claim(
    session: Session,
    status: CollectorBatchStatus,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    body_of: Callable[[Session, CollectorBatch], dict[str, Any]],
    body_column: str,
    ready: ColumnElement[bool] | None = None,
) -> list[Claimed]:
    """Lease up to `limit` due batches of `status`; each one's body (built and kept at the first
    attempt, in `body_column`, so every retry sends the same)."""
    batches = session.scalars(
        select(CollectorBatch)
        .where(
            CollectorBatch.status == status.value,
            CollectorBatch.next_attempt_at <= now,
            or_(CollectorBatch.lease_until.is_(None), CollectorBatch.lease_until <= now),
            *(() if ready is None else (ready,)),
        )
        .order_by(CollectorBatch.next_attempt_at, CollectorBatch.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for batch in batches:
        vault = id_vault.current()
        kept = getattr(batch, body_column)
        if kept is None:
            body = body_of(session, batch)
            # Kept with its ID numbers sealed: the database holds none in clear.
            setattr(batch, body_column, vault.seal_ids(body))
        else:
            body = vault.open_ids(kept)
        batch.attempts += 1
        batch.lease_until = now + lease
        claimed.append(
            Claimed(
                batch.id,
                batch.batch_no,
                batch.declaration_no or "",
                batch.county_code,
                batch.attempts,
                body,
            )
        )
    return claimed


def back_off(
    uow: UnitOfWork,
    batch: Claimed,
    status: CollectorBatchStatus,
    error: str,
    *,
    now: datetime,
    schedule: Sequence[int],
    what: str,
) -> None:
    wait = schedule[min(batch.attempts, len(schedule)) - 1] if schedule else 60
    with uow as session:
        session.execute(
            update(CollectorBatch)
            .where(CollectorBatch.id == batch.id, CollectorBatch.status == status.value)
            .values(
                lease_until=None,
                next_attempt_at=now + timedelta(seconds=wait),
                last_error=mask_text(error)[:255],  # no ID number an answer quotes
                updated_at=now,
            ),
            execution_options={"synchronize_session": False},
        )
    log.warning(
        "collector batch %s: %s attempt %d failed, next in %d s: %s",
        batch.batch_no,
        what,
        batch.attempts,
        wait,
        error,
    )
