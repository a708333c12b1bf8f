"""audit_entry.region_code required: every entry names the region it concerns

Entries written before the rule without a region are given the city's code (CITY_CODE, as the app
reads it), so city accounts still see them; nothing else could see them before either.

Revision ID: c41d0b7e9a52
Revises: a7c3e5d91f20
Create Date: 2026-12-03 19:55:00.000000
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "c41d0b7e9a52"
down_revision: str | None = "a7c3e5d91f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    city = os.environ.get("CITY_CODE") or "410700000000"
    op.execute(
        sa.text("UPDATE audit_entry SET region_code = :city WHERE region_code IS NULL").bindparams(
            city=city
        )
    )
    with op.batch_alter_table("audit_entry") as batch:
        batch.alter_column("region_code", existing_type=sa.String(12), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.alter_column("region_code", existing_type=sa.String(12), nullable=True)
