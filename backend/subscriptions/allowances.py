"""A payer's allowances, and writing a message that spends one.

WeChat's one-time subscriptions: each "accept" of a template on the phone allows one message of
that template to that user; "reject" allows none; "ban" (always refuse) too, and WeChat stops
asking. We count what is left per user and kind, and spend one when a message is written, in the
transaction of the event it tells, never when it is sent: so a user who allowed one message gets
at most one, whatever happens to its delivery, and no message is written for a user who allowed
none. An event told twice (a confirmation repeated, a worker round run again) finds its message
already written (unique per kind, event and user) and spends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.errors import NotFound, Refused
from backend.infra.uow import UnitOfWork
from backend.models import PaymentOrder, Subscription, WeChatMessage
from backend.models.subscriptions import MESSAGE_KINDS
from backend.states.subscriptions import WeChatMessageStatus

ANSWERS = ("accept", "reject", "ban", "filter")  # what wx.requestSubscribeMessage reports
# More accepts than this are not counted: a phone asks once per payment, so a higher claim is
# a client repeating itself, and WeChat keeps the true count anyway (43101 past it).
MAX_REMAINING = 20


@dataclass(frozen=True)
class Allowance:
    kind: str
    template_id: str
    remaining: int
    banned: bool


def record_answers(
    uow: UnitOfWork,
    *,
    openid: str,
    order_no: str,
    answers: Mapping[str, str],
    templates: Mapping[str, str],
    now: datetime,
) -> list[Allowance]:
    """Keep what the user answered to the prompt shown after paying `order_no` (their own order:
    its household is whose deadlines they hear of); the user's allowances after."""
    kind_of = {template_id: kind for kind, template_id in templates.items()}
    unknown = sorted(set(answers) - set(kind_of))
    if unknown:
        raise Refused(
            f"未知的订阅消息模板：{unknown[0]}", reason="unknown_template", field="results"
        )
    odd = sorted(answer for answer in answers.values() if answer not in ANSWERS)
    if odd:
        raise Refused(f"无法识别的订阅结果：{odd[0]}", reason="unknown_answer", field="results")
    with uow as session:
        owner = session.scalar(select(PaymentOrder.openid).where(PaymentOrder.order_no == order_no))
        if owner != openid:
            raise NotFound("没有这笔订单。", reason="unknown_order")
        rows = {
            row.kind: row
            for row in session.scalars(
                select(Subscription).where(Subscription.openid == openid).with_for_update()
            )
        }
        for template_id, answer in answers.items():
            kind = kind_of[template_id]
            row = rows.get(kind)
            if row is None:
                row = Subscription(openid=openid, kind=kind, remaining=0, banned=False)
                row.created_at = now
                session.add(row)
                rows[kind] = row
            if answer == "accept":
                row.remaining = min(row.remaining + 1, MAX_REMAINING)
                row.banned = False
            elif answer == "ban":
                row.remaining, row.banned = 0, True
            row.updated_at = now
        session.flush()
        return _allowances(rows, templates)


def allowances(session: Session, openid: str, templates: Mapping[str, str]) -> list[Allowance]:
    rows = {
        row.kind: row
        for row in session.scalars(select(Subscription).where(Subscription.openid == openid))
    }
    return _allowances(rows, templates)


def _allowances(rows: Mapping[str, Subscription], templates: Mapping[str, str]) -> list[Allowance]:
    return [
        Allowance(
            kind,
            templates[kind],
            rows[kind].remaining if kind in rows else 0,
            rows[kind].banned if kind in rows else False,
        )
        for kind in MESSAGE_KINDS
    ]


def enqueue(
    session: Session,
    *,
    openid: str,
    kind: str,
    event_key: str,
    data: dict[str, Any],
    page: str | None,
    now: datetime,
) -> bool:
    """Write the message of an event if the user has an allowance of its kind left, spending
    one; False when told already or not allowed (nothing written, nothing spent).

    Inside the caller's transaction. The guarded decrement (remaining > 0) is what two events
    racing for the last allowance settle on: one wins, the other writes nothing.
    """
    told = session.scalar(
        select(WeChatMessage.id).where(
            WeChatMessage.kind == kind,
            WeChatMessage.event_key == event_key,
            WeChatMessage.openid == openid,
        )
    )
    if told is not None:
        return False
    spent = session.execute(
        update(Subscription)
        .where(
            Subscription.openid == openid,
            Subscription.kind == kind,
            Subscription.remaining > 0,
        )
        .values(remaining=Subscription.remaining - 1, updated_at=now)
        .returning(Subscription.id),
        execution_options={"synchronize_session": False},
    ).first()
    if spent is None:
        return False
    session.add(
        WeChatMessage(
            kind=kind,
            event_key=event_key,
            openid=openid,
            page=page,
            data=data,
            status=WeChatMessageStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    return True


def subscribed(session: Session, openid: str, kind: str) -> bool:
    """Whether a message of `kind` to `openid` could be written now (cheap check first)."""
    return bool(
        session.scalar(
            select(Subscription.id).where(
                Subscription.openid == openid,
                Subscription.kind == kind,
                Subscription.remaining > 0,
            )
        )
    )
