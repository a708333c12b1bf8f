"""money_check: the money watch's result for each Beijing day

Revision ID: a7c3e5d91f20
Revises: acd5e117de4a
Create Date: 2026-12-03 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "a7c3e5d91f20"
down_revision: str | None = "acd5e117de4a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "money_check",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("took", sa.BigInteger(), nullable=False),
        sa.Column("credited", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("in_discrepancies", sa.BigInteger(), nullable=False),
        sa.Column("ledger_mismatches", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_money_check")),
    )


def downgrade() -> None:
    op.drop_table("money_check")
