"""Registrations: one enrollee × scheme × period_year, the thing that gets paid."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp
from backend.states.registrations import RegistrationStatus

SCHEMES = ("pension", "medical")
STATUSES = tuple(status.value for status in RegistrationStatus)


class Registration(Base):
    __tablename__ = "registration"
    __table_args__ = (
        UniqueConstraint("enrollee_id", "scheme", "period_year"),
        CheckConstraint("scheme IN ('pension', 'medical')", name="scheme"),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint(
            "study_years_left IS NULL OR study_years_left BETWEEN 1 AND 10",
            name="study_years_left",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Opaque public reference, so API clients never see our row ids or the collection serial.
    ref: Mapped[str] = mapped_column(String(24), unique=True)
    # No index of its own: the unique constraint in __table_args__ starts with this column.
    enrollee_id: Mapped[int] = mapped_column(ForeignKey("enrollee.id"))
    scheme: Mapped[str] = mapped_column(String(8))
    period_year: Mapped[int] = mapped_column(Integer)
    collection_no: Mapped[str] = mapped_column(String(40), unique=True)
    # The insured place (参保地) the agency registered; it decides the policy that applies.
    village_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RegistrationStatus.UNPAID.value)
    # How the payment that credited it came (wechat_miniprogram, wechat_qr, government); None
    # while unpaid. Progress and exports count by it.
    paid_channel: Mapped[str | None] = mapped_column(String(24), default=None)
    school_code: Mapped[str | None] = mapped_column(String(32), default=None)
    study_years_left: Mapped[int | None] = mapped_column(Integer, default=None)
    # The e-tax receipt number once the bureau confirms the treasury entry.
    tax_receipt_no: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)

    @property
    def is_student(self) -> bool:
        return self.school_code is not None


def new_ref() -> str:
    """A fresh opaque public reference for a registration."""
    return "R" + secrets.token_hex(8)


def new_refs(count: int) -> list[str]:
    """`count` fresh references, as new_ref makes them, from one call to the system's random
    source instead of one per reference (a bulk import makes a million)."""
    digits = secrets.token_hex(8 * count)
    return ["R" + digits[i : i + 16] for i in range(0, 16 * count, 16)]
