"""school batches and the channel of an order

A school pays its students' medical contributions, several study years at once, with one WeChat
QR order: the batch names the school and its order. An order may name its own channel (school);
a resident's order leaves it NULL (its trade type's channel). A partial index reads a school's
students by school_code.

Revision ID: 08bfee8bf7a3
Revises: 7189fd907200
Create Date: 2026-12-03 16:01:39.617719
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models._types

revision: str = "08bfee8bf7a3"
down_revision: str | None = "7189fd907200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STUDENTS = sa.text("school_code IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "school_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.String(length=32), nullable=False),
        sa.Column("school_code", sa.String(length=32), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("student_count", sa.Integer(), nullable=False),
        sa.Column("year_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", backend.models._types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_code"], ["region.code"], name=op.f("fk_school_batch_county_code_region")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["payment_order.id"], name=op.f("fk_school_batch_order_id_payment_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_batch")),
        sa.UniqueConstraint("batch_no", name=op.f("uq_school_batch_batch_no")),
        sa.UniqueConstraint("order_id", name=op.f("uq_school_batch_order_id")),
    )
    with op.batch_alter_table("school_batch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_school_batch_county_code"), ["county_code"])
        batch_op.create_index(batch_op.f("ix_school_batch_school_code"), ["school_code"])

    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=24), nullable=True))
        batch_op.create_check_constraint("channel", "channel IS NULL OR channel IN ('school')")

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_school_code",
            ["school_code"],
            sqlite_where=STUDENTS,
            postgresql_where=STUDENTS,
        )


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_registration_school_code", sqlite_where=STUDENTS, postgresql_where=STUDENTS
        )

    # School orders stay as orders (paid or not) of the QR code's channel.
    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payment_order_channel"), type_="check")
        batch_op.drop_column("channel")

    with op.batch_alter_table("school_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_batch_school_code"))
        batch_op.drop_index(batch_op.f("ix_school_batch_county_code"))

    op.drop_table("school_batch")
