"""The outbox of messages to the tax bureau's ledger, and every attempt to deliver them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp
from backend.states.ledger import MessageStatus

MESSAGE_STATUSES = tuple(status.value for status in MessageStatus)
# payment and reversal: one paid registration; registration: one registration pushed to the
# bureau before it collects (design.md section 8), sent in batches.
KINDS = ("payment", "reversal", "registration")


class LedgerMessage(Base):
    """A payment message per paid order item or government batch item, written in the
    transaction that credited it; a reversal message per refund that gave money back for a
    credited order item; a registration message per registration an import added or changed,
    written in the import's transaction."""

    __tablename__ = "ledger_message"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS}", name="kind"),
        CheckConstraint(f"status IN {MESSAGE_STATUSES}", name="status"),
        # A payment or reversal carries a WeChat payment (an order item) or a government one,
        # never both; a registration push carries neither.
        CheckConstraint(
            "(kind = 'registration' AND order_item_id IS NULL AND government_item_id IS NULL)"
            " OR (kind <> 'registration'"
            " AND (order_item_id IS NULL) <> (government_item_id IS NULL))",
            name="one_payment",
        ),
        # The workers' claims: the due messages of a kind, oldest first. Only pending rows are
        # indexed, so a claim reads what is due, never the long tail of delivered messages.
        Index(
            "ix_ledger_message_due",
            "kind",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the bureau deduplicates on: the same message_id is the same message, however often sent.
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    order_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_item.id"), index=True, default=None
    )
    government_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("government_batch_item.id"), unique=True, default=None
    )
    refund_id: Mapped[int | None] = mapped_column(
        ForeignKey("refund.id"), unique=True, default=None
    )
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When a worker may next take it; claiming pushes it forward (a lease), so a worker that dies
    # mid-delivery leaves it to be sent again, with the same message_id, once the lease ends.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The body as first sent, so every retry sends the same bytes of meaning.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    ledger_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    tax_receipt_no: Mapped[str | None] = mapped_column(String(32), default=None)
    entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)


class LedgerAttempt(Base):
    __tablename__ = "ledger_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("ledger_message.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    worker: Mapped[str] = mapped_column(String(64))
    http_status: Mapped[int | None] = mapped_column(Integer, default=None)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | failed | dead
    error: Mapped[str | None] = mapped_column(String(255), default=None)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
