"""School batches (学校代缴): a school pays its students' medical contributions, each student for
one or more study years, with one WeChat Pay QR order.

The batch names the school and the order; what it pays (every student's every year) is the
order's items, each holding one registration, so a year in a school batch cannot be in a
resident's order at the same time (order_item.held_registration_id is unique). Where the batch
stands (awaiting payment, paid, expired, refunded) is its order's status: no second state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp
from backend.models.registrations import Registration


class SchoolBatch(Base):
    __tablename__ = "school_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Shown to the school: 'XB' and the digits of its order's number (SI...), so either finds
    # the other.
    batch_no: Mapped[str] = mapped_column(String(32), unique=True)
    school_code: Mapped[str] = mapped_column(String(32), index=True)
    # The county of its first student, as for any order: where its audit entries are filed and
    # which county's staff see it.
    county_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("payment_order.id"), unique=True)
    student_count: Mapped[int] = mapped_column(Integer)
    year_count: Mapped[int] = mapped_column(Integer)  # registrations paid: students x years
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)


# A school's students are read by school_code; only students have one, so the index is partial
# and an import of residents pays nothing for it.
Index(
    "ix_registration_school_code",
    Registration.school_code,
    sqlite_where=text("school_code IS NOT NULL"),
    postgresql_where=text("school_code IS NOT NULL"),
)
