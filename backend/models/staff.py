"""Staff users: a role and a region scope; authenticated by a token stored only as a hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp

ROLES = ("viewer", "agency", "recon", "admin", "collector", "school")
# Which scheme's bureau a person works for: 人社 (human resources and social security) runs the
# pension, 医保 (healthcare security) the medical scheme; None sees both (city leaders, admins).
DEPARTMENTS = {"hrss": "pension", "nhsa": "medical"}
DEPARTMENT_LABELS = {"hrss": "人社", "nhsa": "医保"}


class StaffUser(Base):
    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES}", name="role"),
        # A school account is for one school (its code, as in the student import).
        CheckConstraint("(role = 'school') = (school_code IS NOT NULL)", name="school_code"),
        CheckConstraint("department IS NULL OR department IN ('hrss', 'nhsa')", name="department"),
        CheckConstraint("expires_at > issued_at", name="token_lifetime"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(12))  # "collector" has 9 letters
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    department: Mapped[str | None] = mapped_column(String(8), default=None)
    # A collector's scope is its region (a village, a township, or the township of a health
    # service institution); a school's is the school itself.
    school_code: Mapped[str | None] = mapped_column(String(32), default=None)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The current token: when it was issued (created or rotated) and until when it works. The
    # expiry is fixed at issue (STAFF_TOKEN_DAYS then), so changing the setting moves no token.
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the current token last authenticated a request, to the minute (written at most once
    # a minute, see backend.auth.staff.note_use); None: never since it was issued.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
