"""Enrollees (registered persons) and their special-group memberships."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra import id_vault
from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp


class Enrollee(Base):
    __tablename__ = "enrollee"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The ID number is never stored in clear (backend.infra.id_vault): its keyed hash is what
    # finds the person (unique), its sealed copy what gives the number back where it is needed.
    id_hash: Mapped[str] = mapped_column(String(id_vault.HASH_LENGTH), unique=True)
    id_sealed: Mapped[str] = mapped_column(String(id_vault.SEALED_LENGTH))
    name: Mapped[str] = mapped_column(String(64))
    birth_date: Mapped[date] = mapped_column(Date)
    village_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    household_no: Mapped[str | None] = mapped_column(String(32), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)

    @property
    def id_number(self) -> str:
        """The ID number, opened from its sealed copy (in memory only)."""
        return id_vault.open_sealed(self.id_sealed)

    @id_number.setter
    def id_number(self, value: str) -> None:
        self.id_hash, self.id_sealed = id_vault.hash_id(value), id_vault.seal(value)

    @classmethod
    def numbered(cls, id_number: str) -> ColumnElement[bool]:
        """The filter `WHERE` this person's ID number, compared as its hash."""
        return cls.id_hash == id_vault.hash_id(id_number)


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
