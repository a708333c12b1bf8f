"""The campaign's progress: a journal of changes and the daily rollup built from it.

Every change that moves a progress figure (a registration imported, credited, given back,
entered in the treasury) appends a ProgressChange row in the transaction that made it: an
append-only insert, so the busiest payment path contends on no counter row. The worker rolls each
day's journal into ProgressDay: cumulative figures per region (every level) × scheme × period
year × channel as of the end of that day. A progress request reads a few ProgressDay rows, never
the registrations.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime

# The channel of journal and rollup rows that count registrations, not payments.
NO_CHANNEL = ""


class ProgressChange(Base):
    __tablename__ = "progress_change"
    # Nobody reads a journal row's id back: no RETURNING on its inserts (they are many).
    __table_args__ = (Index("ix_progress_change_day", "day"), {"implicit_returning": False})

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # The Beijing business day the change was recorded on (the clock's day, not the payer's).
    day: Mapped[date] = mapped_column(Date)
    village_code: Mapped[str] = mapped_column(String(12))
    scheme: Mapped[str] = mapped_column(String(8))
    period_year: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(24))
    registered: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # what residents paid
    gov_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # the government's share
    entered: Mapped[int] = mapped_column(Integer, default=0)


class ProgressDay(Base):
    """Cumulative figures of one region as of the end of `day`, one row per channel."""

    __tablename__ = "progress_day"

    scheme: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    channel: Mapped[str] = mapped_column(String(24), primary_key=True)
    level: Mapped[str] = mapped_column(String(8))  # of the region: village … city
    registered: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    gov_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    entered: Mapped[int] = mapped_column(Integer, default=0)


class ProgressRoll(Base):
    """Which days the rollup holds and when each was last rolled (today's is rolled again)."""

    __tablename__ = "progress_roll"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The journal rows of the day the roll saw (a later roll of the same day sees more).
    changes: Mapped[int] = mapped_column(Integer)
