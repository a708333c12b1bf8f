"""WeChat Pay's daily bills as pulled: one record per bill day, with the stored file's hash."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp

BILL_STATUSES = ("ok", "empty", "invalid")


class WeChatBill(Base):
    """The ALL bill of one Beijing day. Pulling the day again updates this record."""

    __tablename__ = "wechat_bill"
    __table_args__ = (CheckConstraint("status IN ('ok', 'empty', 'invalid')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_date: Mapped[date] = mapped_column(Date, unique=True)
    status: Mapped[str] = mapped_column(String(12))
    # Of the UTF-8 bytes as downloaded; none when WeChat has no bill for the day.
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    path: Mapped[str | None] = mapped_column(String(255), default=None)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    payment_count: Mapped[int] = mapped_column(Integer, default=0)
    refund_count: Mapped[int] = mapped_column(Integer, default=0)
    # A day's totals outgrow 32 bits (21 million yuan) in a busy collection season.
    settlement_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # Why the bill could not be read, with its line ("line 7: ..."); kept with the file.
    error: Mapped[str | None] = mapped_column(String(255), default=None)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)

    # Not stored: set by pull_bill. None on a day's first pull, else whether the hash differs
    # from the previous pull's.
    hash_changed = None
