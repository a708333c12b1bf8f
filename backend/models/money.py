"""The money watch's result for each Beijing day (backend/money/watch.py defines the figures)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime


class MoneyCheck(Base):
    """One row per day checked, written over on every check: the dashboard, the API and /metrics
    read it instead of summing a season's payments again."""

    __tablename__ = "money_check"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # Where `took` comes from: the day's WeChat bill, or (no readable bill yet) our paid trades.
    source: Mapped[str] = mapped_column(String(8))
    took: Mapped[int] = mapped_column(BigInteger)
    credited: Mapped[int] = mapped_column(BigInteger)
    refunded: Mapped[int] = mapped_column(BigInteger)
    in_discrepancies: Mapped[int] = mapped_column(BigInteger)
    # Order items whose payment messages to the tax ledger are not exactly one (zero when ok).
    ledger_mismatches: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[bool] = mapped_column(Boolean)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def difference(self) -> int:
        """took - (credited + refunded + in_discrepancies), fen; 0 when the money adds up."""
        return self.took - self.credited - self.refunded - self.in_discrepancies
