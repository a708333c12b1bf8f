"""WeChat subscription messages: what each user allowed us to send, and the outbox of messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp
from backend.states.subscriptions import WeChatMessageStatus

# What a message tells: the tax receipt of an order arrived, a refund finished, a deadline nears.
MESSAGE_KINDS = ("tax_receipt", "refund", "deadline")
WECHAT_MESSAGE_STATUSES = tuple(status.value for status in WeChatMessageStatus)


class Subscription(Base):
    """How many more messages of one kind a user allowed: WeChat's one-time subscriptions, each
    "accept" of a template good for one message. Consumed when a message is enqueued."""

    __tablename__ = "subscription"
    __table_args__ = (
        UniqueConstraint("openid", "kind"),
        CheckConstraint(f"kind IN {MESSAGE_KINDS}", name="kind"),
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    # The user chose "always refuse" (ban) for the template: we stop asking the phone to offer it.
    banned: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)


class WeChatMessage(Base):
    """One subscription message to one user about one event, written in the transaction of the
    event. (kind, event_key, openid) is unique: an event told twice is still one message."""

    __tablename__ = "wechat_message"
    __table_args__ = (
        UniqueConstraint("kind", "event_key", "openid"),
        CheckConstraint(f"kind IN {MESSAGE_KINDS}", name="kind"),
        CheckConstraint(f"status IN {WECHAT_MESSAGE_STATUSES}", name="status"),
        Index(
            "ix_wechat_message_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    # What the message is about: "order:<order_no>", "refund:<refund_no>", "deadline:<date>".
    event_key: Mapped[str] = mapped_column(String(64))
    # The template is the kind's, as configured when it is sent (SUBSCRIBE_TEMPLATE_*).
    openid: Mapped[str] = mapped_column(String(64), index=True)
    page: Mapped[str | None] = mapped_column(String(128), default=None)
    # The template's fields as sent ({"thing1": {"value": ...}}): masked names only.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default=WeChatMessageStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Claiming pushes it forward by a lease, as the tax ledger's outbox does.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    errcode: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)
