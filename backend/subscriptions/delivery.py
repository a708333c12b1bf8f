"""Delivering subscription messages: claim due ones, send, record, back off, dead-letter.

As the tax ledger's outbox (backend/ledger/outbox.py): a claim pushes a message's
next_attempt_at forward by a lease in a short transaction of its own (FOR UPDATE SKIP LOCKED on
PostgreSQL; SQLite takes one writer at a time), so two workers never hold one message; the send
happens outside any transaction; the result is applied by the message machine's guarded
UPDATE (only a pending message moves). A worker killed mid-send leaves the message to be sent
again when its lease ends: WeChat has no message id to deduplicate on, so in that one case the
user may see it twice, the price of never losing it. A refusal (43101) is final: the user has
no allowance left at WeChat, and asking again would be refused again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.infra.clock import Clock
from backend.infra.uow import UnitOfWork
from backend.models import WeChatMessage
from backend.states.subscriptions import WeChatMessageStatus
from backend.states.transitions import WECHAT_MESSAGES
from backend.subscriptions.port import Messenger, SendError

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    refused: int = 0
    dead: int = 0
    more_waiting: bool = False

    def __bool__(self) -> bool:
        return bool(self.sent or self.failed or self.refused or self.dead)

    def __str__(self) -> str:
        return f"sent {self.sent}, failed {self.failed}, refused {self.refused}, dead {self.dead}"


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    openid: str
    data: dict[str, Any]
    page: str | None
    attempts: int


def claim_due(
    session: Session, *, now: datetime, limit: int, lease: timedelta = DEFAULT_LEASE
) -> list[Claimed]:
    rows = session.scalars(
        select(WeChatMessage)
        .where(
            WeChatMessage.status == WeChatMessageStatus.PENDING.value,
            WeChatMessage.next_attempt_at <= now,
        )
        .order_by(WeChatMessage.next_attempt_at, WeChatMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for message in rows:
        message.attempts += 1
        message.next_attempt_at = now + lease
        claimed.append(
            Claimed(
                message.id,
                message.kind,
                message.openid,
                message.data,
                message.page,
                message.attempts,
            )
        )
    return claimed


def send_due(
    uow: UnitOfWork,
    messenger: Messenger,
    *,
    templates: Mapping[str, str],
    clock: Clock,
    schedule: Sequence[int],
    limit: int = 50,
    lease: timedelta = DEFAULT_LEASE,
) -> SendReport:
    """One round: claim up to `limit` due messages and try each once."""
    report = SendReport()
    with uow as session:
        claimed = claim_due(session, now=clock.now(), limit=limit, lease=lease)
    report.more_waiting = len(claimed) >= limit
    for message in claimed:
        error: SendError | None = None
        try:
            messenger.send(message.openid, templates[message.kind], message.data, message.page)
        except SendError as exc:
            error = exc
        with uow as session:
            _record(session, message, error, now=clock.now(), schedule=schedule, report=report)
    return report


def _record(
    session: Session,
    message: Claimed,
    error: SendError | None,
    *,
    now: datetime,
    schedule: Sequence[int],
    report: SendReport,
) -> None:
    where = WeChatMessage.id == message.id
    if error is None:
        WECHAT_MESSAGES.apply(
            session,
            "send",
            where,
            values={"sent_at": now, "errcode": None, "last_error": None, "updated_at": now},
        )
        report.sent += 1
        return
    values = {"errcode": error.errcode, "last_error": str(error)[:255], "updated_at": now}
    if error.refused:
        WECHAT_MESSAGES.apply(session, "refuse", where, values=values)
        report.refused += 1
        log.info("%s message %d refused by WeChat: %s", message.kind, message.id, error)
    elif message.attempts > len(schedule):
        WECHAT_MESSAGES.apply(session, "bury", where, values=values)
        report.dead += 1
        log.error(
            "%s message %d dead after %d attempts: %s",
            message.kind,
            message.id,
            message.attempts,
            error,
        )
    else:
        wait = timedelta(seconds=schedule[message.attempts - 1])
        session.execute(
            update(WeChatMessage)
            .where(where, WeChatMessage.status == WeChatMessageStatus.PENDING.value)
            .values(next_attempt_at=now + wait, **values),
            execution_options={"synchronize_session": False},
        )
        report.failed += 1
        log.warning(
            "%s message %d failed (attempt %d): %s",
            message.kind,
            message.id,
            message.attempts,
            error,
        )
