"""Administrative regions (行政区划): city → county → township → village, 12-digit codes."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base

LEVELS = ("city", "county", "township", "village")


class Region(Base):
    __tablename__ = "region"
    __table_args__ = (
        CheckConstraint("level IN ('city', 'county', 'township', 'village')", name="level"),
        CheckConstraint("length(code) = 12", name="code_length"),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(8))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("region.code"), index=True, default=None
    )
