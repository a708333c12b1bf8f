"""collecting units and their batches

Collecting units (a collector account's village, township or health service institution), their
batches of locally collected payments with the summary serial (单据号) and the batches' items,
each holding its registration (held_registration_id unique, like order_item's). staff_user.role
grows to 12 characters: "collector" did not fit in 8 (PostgreSQL refused the account).

Revision ID: e0629814b73b
Revises: 08bfee8bf7a3
Create Date: 2026-12-03 16:01:14.788132
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0629814b73b"
down_revision: str | None = "08bfee8bf7a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.alter_column(
            "role", existing_type=sa.String(length=8), type_=sa.String(length=12)
        )
    op.create_table(
        "collecting_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('village', 'township', 'health_institution')",
            name=op.f("ck_collecting_unit_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_collecting_unit_region_code_region")
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_collecting_unit_staff_user_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collecting_unit")),
        sa.UniqueConstraint("staff_user_id", name=op.f("uq_collecting_unit_staff_user_id")),
    )
    with op.batch_alter_table("collecting_unit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collecting_unit_county_code"), ["county_code"], unique=False
        )

    op.create_table(
        "collector_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("declaration_no", sa.String(length=32), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=True),
        sa.Column("total_fen", sa.Integer(), nullable=True),
        sa.Column("pension_count", sa.Integer(), nullable=True),
        sa.Column("medical_count", sa.Integer(), nullable=True),
        sa.Column("accepted_count", sa.Integer(), nullable=True),
        sa.Column("refused_count", sa.Integer(), nullable=True),
        sa.Column("declaration_ref", sa.String(length=64), nullable=True),
        sa.Column("booking_ref", sa.String(length=64), nullable=True),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("cancelled_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("declaration", sa.JSON(), nullable=True),
        sa.Column("booking", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'declared', 'refused', 'entered', 'booked', 'cancelled')",
            name=op.f("ck_collector_batch_status"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["collecting_unit.id"],
            name=op.f("fk_collector_batch_unit_id_collecting_unit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collector_batch")),
        sa.UniqueConstraint("batch_no", name=op.f("uq_collector_batch_batch_no")),
        sa.UniqueConstraint("declaration_no", name=op.f("uq_collector_batch_declaration_no")),
    )
    with op.batch_alter_table("collector_batch", schema=None) as batch_op:
        batch_op.create_index("ix_collector_batch_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_collector_batch_region_code"), ["region_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_collector_batch_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(
            "ux_collector_batch_one_open",
            ["unit_id"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "collector_batch_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("held_registration_id", sa.Integer(), nullable=True),
        sa.Column("collection_no", sa.String(length=40), nullable=False),
        sa.Column("scheme", sa.String(length=8), nullable=False),
        sa.Column("period_year", sa.Integer(), nullable=False),
        sa.Column("grade_yuan", sa.Integer(), nullable=True),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("gov_paid_fen", sa.Integer(), nullable=False),
        sa.Column("contribution_subsidy_fen", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("refusal_reason", sa.String(length=40), nullable=True),
        sa.Column("refusal_note", sa.String(length=255), nullable=True),
        sa.Column("tax_receipt_no", sa.String(length=32), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('recorded', 'accepted', 'refused', 'entered', 'cancelled')",
            name=op.f("ck_collector_batch_item_outcome"),
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_collector_batch_item_amount_positive")),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["collector_batch.id"],
            name=op.f("fk_collector_batch_item_batch_id_collector_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["held_registration_id"],
            ["registration.id"],
            name=op.f("fk_collector_batch_item_held_registration_id_registration"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_collector_batch_item_registration_id_registration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collector_batch_item")),
        sa.UniqueConstraint(
            "batch_id",
            "registration_id",
            name=op.f("uq_collector_batch_item_batch_id_registration_id"),
        ),
        sa.UniqueConstraint(
            "held_registration_id", name=op.f("uq_collector_batch_item_held_registration_id")
        ),
    )
    with op.batch_alter_table("collector_batch_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collector_batch_item_batch_id"), ["batch_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_collector_batch_item_registration_id"), ["registration_id"], unique=False
        )


def downgrade() -> None:
    # Dropping a table drops its indexes.
    op.drop_table("collector_batch_item")
    op.drop_table("collector_batch")
    op.drop_table("collecting_unit")
    op.execute("DELETE FROM staff_user WHERE role = 'collector'")
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.alter_column(
            "role", existing_type=sa.String(length=12), type_=sa.String(length=8)
        )
