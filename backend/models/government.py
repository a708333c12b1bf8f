"""Government-paid batches (代缴/资助): registrations whose whole contribution the government pays.

Per county × scheme × period_year the agency drafts a batch of the registrations whose payable is
0 after the policy, then confirms that finance paid it; confirming credits them with channel
`government` and writes one tax ledger message each (payer: finance).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp
from backend.states.government import BatchStatus

BATCH_STATUSES = tuple(status.value for status in BatchStatus)


class GovernmentBatch(Base):
    __tablename__ = "government_batch"
    __table_args__ = (
        CheckConstraint(f"status IN {BATCH_STATUSES}", name="status"),
        CheckConstraint("scheme IN ('pension', 'medical')", name="scheme"),
        # One draft at a time per county, scheme and year: two drafts would list the same people.
        Index(
            "ux_government_batch_one_draft",
            "county_code",
            "scheme",
            "period_year",
            unique=True,
            sqlite_where=text("status = 'draft'"),
            postgresql_where=text("status = 'draft'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Shown to staff and sent to the bureau in place of an order number, e.g. G4107212019P0001.
    batch_no: Mapped[str] = mapped_column(String(32), unique=True)
    county_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    scheme: Mapped[str] = mapped_column(String(8))
    period_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=BatchStatus.DRAFT.value)
    # Of the items listed at draft time; confirming may skip some (see GovernmentBatchItem).
    item_count: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(Integer)
    # Of the items confirming credited.
    credited_count: Mapped[int | None] = mapped_column(Integer, default=None)
    credited_fen: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by: Mapped[str] = mapped_column(String(64))
    confirmed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)


class GovernmentBatchItem(Base):
    """One registration of a batch, priced when the batch was drafted."""

    __tablename__ = "government_batch_item"
    __table_args__ = (
        UniqueConstraint("batch_id", "registration_id"),
        CheckConstraint("gov_paid_fen > 0", name="gov_paid_positive"),
        CheckConstraint("outcome IN ('listed', 'credited', 'skipped')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("government_batch.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    # Set when confirming credited it: unique, so the government pays a registration once even
    # if two batches raced past every check in Python.
    credited_registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registration.id"), unique=True, default=None
    )
    applied_group: Mapped[str] = mapped_column(String(24))
    grade_yuan: Mapped[int | None] = mapped_column(Integer, default=None)
    gov_paid_fen: Mapped[int] = mapped_column(Integer)
    contribution_subsidy_fen: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(10), default="listed")
    # Why confirming skipped it (paid meanwhile, no longer fully paid by the government).
    skip_reason: Mapped[str | None] = mapped_column(String(32), default=None)
