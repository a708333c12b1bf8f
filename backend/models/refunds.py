"""Refunds: money given back for one order item, through the payment platform's refund call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp
from backend.states.refunds import RefundStatus

REFUND_STATUSES = tuple(status.value for status in RefundStatus)
REFUND_REASONS = ("duplicate_payment", "wrong_grade", "other")
IN_PROGRESS = "status IN ('requested', 'processing')"  # states.refunds.IN_PROGRESS


class Refund(Base):
    """requested (not yet accepted by WeChat) -> processing -> succeeded | failed."""

    __tablename__ = "refund"
    __table_args__ = (
        # A repeated staff request (same person, same Idempotency-Key) finds the refund it made.
        UniqueConstraint("requested_by", "idempotency_key"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(f"status IN {REFUND_STATUSES}", name="status"),
        CheckConstraint("reason IN ('duplicate_payment', 'wrong_grade', 'other')", name="reason"),
        # One refund in progress per order item, enforced where two racing requests cannot
        # both pass: the database.
        Index(
            "uq_refund_in_progress",
            "order_item_id",
            unique=True,
            sqlite_where=text(IN_PROGRESS),
            postgresql_where=text(IN_PROGRESS),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sent to WeChat as out_refund_no; WeChat treats a repeat as the same refund, so every retry
    # of a refund uses its one number.
    refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("payment_order.id"), index=True)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_item.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(255), default=None)
    status: Mapped[str] = mapped_column(
        String(12), default=RefundStatus.REQUESTED.value, index=True
    )
    refund_id: Mapped[str | None] = mapped_column(String(64), default=None)  # WeChat's number
    requested_by: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), default=None)
    # Hash of the request that made it, to tell a replay from another request under the same key.
    request_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the worker next submits (requested) or queries (processing) it.
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)
