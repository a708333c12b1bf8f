"""Reconciliation discrepancies as found, fixed or resolved, one per bill day, kind and order."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp

KINDS = (
    "missing_in_ours",
    "missing_in_bill",
    "amount_mismatch",
    "status_mismatch",
    "duplicate_payment",
)
# open: waits for a person. held: missing_in_bill inside its hold window. fixed: the automatic
# fix took care of it. resolved: a person did, with a reason. cleared: gone on a later run.
STATUSES = ("open", "held", "fixed", "resolved", "cleared")


class ReconDiscrepancy(Base):
    __tablename__ = "discrepancy"
    __table_args__ = (
        # Rerunning a day finds the same row again instead of adding one.
        UniqueConstraint("bill_date", "kind", "order_no", "refund_no"),
        CheckConstraint(f"kind IN {KINDS}", name="kind"),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_date: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    order_no: Mapped[str] = mapped_column(String(32))  # out_trade_no
    # out_refund_no for a refund found on one side only; empty (not NULL, so the unique key holds)
    # for a payment.
    refund_no: Mapped[str] = mapped_column(String(64), default="")
    transaction_id: Mapped[str | None] = mapped_column(String(32), default=None)
    ours_fen: Mapped[int | None] = mapped_column(Integer, default=None)
    bill_fen: Mapped[int | None] = mapped_column(Integer, default=None)
    # The county (6 digits) of the order's registrations, for region-scoped staff; none when the
    # order is not ours.
    county: Mapped[str | None] = mapped_column(String(6), default=None, index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    fix: Mapped[str | None] = mapped_column(String(255), default=None)
    resolution: Mapped[str | None] = mapped_column(String(255), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
