"""Collecting units (代征单位) and their batches of locally collected payments (单据号).

A collecting unit is what a `collector` staff account collects for: its village, its township, or
a health service institution (社区卫生服务机构) of its township, whose list is the township's. The
unit's batch holds the registrations whose money it collected (each held as an order holds it);
closed, it carries the summary serial (declaration_no, 单据号) the bureau collects against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp
from backend.states.collectors import CollectorBatchStatus, ItemOutcome

UNIT_KINDS = ("village", "township", "health_institution")
BATCH_STATUSES = tuple(status.value for status in CollectorBatchStatus)
ITEM_OUTCOMES = tuple(outcome.value for outcome in ItemOutcome)


class CollectingUnit(Base):
    """One per collector account: made on its first use (a village or township, named after
    it) or by `flask collectors institution` (a health service institution of a township)."""

    __tablename__ = "collecting_unit"
    __table_args__ = (CheckConstraint(f"kind IN {UNIT_KINDS}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(64))
    # Its scope: the village, or the township (a township, or an institution in it).
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    county_code: Mapped[str] = mapped_column(String(12), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)


class CollectorBatch(Base):
    __tablename__ = "collector_batch"
    __table_args__ = (
        CheckConstraint(f"status IN {BATCH_STATUSES}", name="status"),
        # One open batch per unit: what the collector records goes there.
        Index(
            "ux_collector_batch_one_open",
            "unit_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # The workers' question, "which batches are due a declaration or a booking push?".
        Index("ix_collector_batch_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Shown while it is open, e.g. C41072100030002 (county, unit, the unit's serial).
    batch_no: Mapped[str] = mapped_column(String(32), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("collecting_unit.id"), index=True)
    # The unit's scope and county, copied so reads are scoped without a join.
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    county_code: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), default=CollectorBatchStatus.OPEN.value)
    # 单据号: made when the agency closes the batch, e.g. D41072120191120000012.
    declaration_no: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    # Fixed at closing: what is declared.
    item_count: Mapped[int | None] = mapped_column(Integer, default=None)
    total_fen: Mapped[int | None] = mapped_column(Integer, default=None)
    pension_count: Mapped[int | None] = mapped_column(Integer, default=None)
    medical_count: Mapped[int | None] = mapped_column(Integer, default=None)
    # The bureau's answer.
    accepted_count: Mapped[int | None] = mapped_column(Integer, default=None)
    refused_count: Mapped[int | None] = mapped_column(Integer, default=None)
    declaration_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    # The exchange's acknowledgement of the booking details.
    booking_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    opened_by: Mapped[str] = mapped_column(String(64))
    closed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    cancelled_by: Mapped[str | None] = mapped_column(String(64), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Sending (the declaration while closed, the booking details while entered): attempts of the
    # current step, when the next may be made (the retry schedule), a claim's lease (a worker is
    # sending now: nobody cancels under it) and the last failure, for staff to see.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    # The bodies as first sent, so every retry sends the same.
    declaration: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    booking: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)


class CollectorBatchItem(Base):
    """One registration a unit collected, priced by the fee engine when recorded."""

    __tablename__ = "collector_batch_item"
    __table_args__ = (
        UniqueConstraint("batch_id", "registration_id"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(f"outcome IN {ITEM_OUTCOMES}", name="outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("collector_batch.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    # Equal to registration_id while the batch holds it (recorded, accepted, entered), NULL once
    # released: unique, like order_item.held_registration_id, so two batches cannot hold one
    # registration whatever raced.
    held_registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registration.id"), unique=True, default=None
    )
    collection_no: Mapped[str] = mapped_column(String(40))
    scheme: Mapped[str] = mapped_column(String(8))
    period_year: Mapped[int] = mapped_column(Integer)
    grade_yuan: Mapped[int | None] = mapped_column(Integer, default=None)
    amount_fen: Mapped[int] = mapped_column(Integer)
    gov_paid_fen: Mapped[int] = mapped_column(Integer, default=0)
    contribution_subsidy_fen: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(10), default=ItemOutcome.RECORDED.value)
    # The bureau's refusal: its reason code and its words, for staff to read.
    refusal_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    refusal_note: Mapped[str | None] = mapped_column(String(255), default=None)
    tax_receipt_no: Mapped[str | None] = mapped_column(String(32), default=None)
    entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
