"""通报: a bulletin of the campaign's progress as of a day, ranked, stored with its files."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp


class Bulletin(Base):
    __tablename__ = "bulletin"
    __table_args__ = (
        UniqueConstraint("region_code", "scheme", "period_year", "as_of"),
        CheckConstraint("scheme IN ('pension', 'medical')", name="scheme"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The region the bulletin ranks the children of (the city, as the plan's 通报 do).
    region_code: Mapped[str] = mapped_column(String(12))
    scheme: Mapped[str] = mapped_column(String(8))
    period_year: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    # The figures it was made from (ranked counties and townships, changes, lagging list), so the
    # next bulletin can say what changed without recomputing this one.
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(String(2000))
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
