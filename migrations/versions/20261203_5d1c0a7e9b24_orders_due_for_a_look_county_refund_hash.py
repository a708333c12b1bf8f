"""orders: next_check_at (the poller's lease) instead of checked_at, the county of each order;
refunds: the hash of the request that made them; registrations: no 'refunded' status (a refunded
registration is unpaid again)

Revision ID: 5d1c0a7e9b24
Revises: c91e541c1d88
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1c0a7e9b24"
down_revision: str | None = "c91e541c1d88"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE = "status = 'created'"


def upgrade() -> None:
    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("county_code", sa.String(length=12), nullable=True))
    # Open orders are due a look at once; the county is the first item's registration's.
    op.execute("UPDATE payment_order SET next_check_at = COALESCE(checked_at, created_at)")
    op.execute(
        """
        UPDATE payment_order SET county_code = (
            SELECT substr(registration.village_code, 1, 6) || '000000'
            FROM order_item JOIN registration ON registration.id = order_item.registration_id
            WHERE order_item.order_id = payment_order.id
            ORDER BY order_item.id LIMIT 1)
        """
    )
    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.alter_column("next_check_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_column("checked_at")
        batch_op.create_index(
            "ix_payment_order_due",
            ["next_check_at"],
            unique=False,
            sqlite_where=sa.text(DUE),
            postgresql_where=sa.text(DUE),
        )
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_registration_status"), type_="check")
        batch_op.create_check_constraint(
            "status", "status IN ('unpaid', 'pending', 'paid', 'treasury_entered')"
        )


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_registration_status"), type_="check")
        batch_op.create_check_constraint(
            "status", "status IN ('unpaid', 'pending', 'paid', 'treasury_entered', 'refunded')"
        )
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_column("request_hash")
    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_payment_order_due", sqlite_where=sa.text(DUE), postgresql_where=sa.text(DUE)
        )
        batch_op.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("county_code")
        batch_op.drop_column("next_check_at")
