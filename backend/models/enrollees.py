"""Enrollees (registered persons) and their special-group memberships."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp


class Enrollee(Base):
    __tablename__ = "enrollee"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    birth_date: Mapped[date] = mapped_column(Date)
    village_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    household_no: Mapped[str | None] = mapped_column(String(32), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)


class SpecialGroupMembership(Base):
    """A civil-affairs or poverty-office list says this person is in a special group for a year."""

    __tablename__ = "special_group_membership"
    __table_args__ = (UniqueConstraint("enrollee_id", "group", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: the unique constraint in __table_args__ starts with this column.
    enrollee_id: Mapped[int] = mapped_column(ForeignKey("enrollee.id"))
    group: Mapped[str] = mapped_column(String(24))
    year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
