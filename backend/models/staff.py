"""Staff users: a role and a region scope; authenticated by a token stored only as a hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp

ROLES = ("viewer", "agency", "recon", "admin")


class StaffUser(Base):
    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint("role IN ('viewer', 'agency', 'recon', 'admin')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
