"""staff tokens expire and note their last use

Each staff account's token gets an issue time, an expiry (STAFF_TOKEN_DAYS after it is issued)
and the time it was last used. Tokens issued before this revision had no expiry: they are given
90 days from the upgrade, not from their creation, so that an upgrade never locks out at once
the accounts that are older than 90 days (operators rotate them at their own pace; `flask staff
list` shows which expire when).

Revision ID: a3c91e5f7d20
Revises: 264d16f47e9e
Create Date: 2026-12-03 19:30:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "a3c91e5f7d20"
down_revision: str | None = "264d16f47e9e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRACE = timedelta(days=90)  # STAFF_TOKEN_DAYS' default

staff = sa.table(
    "staff_user",
    sa.column("id", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("issued_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    # The machine's time: a migration runs outside the app and its business clock.
    upgraded = datetime.now(UTC)
    for account_id, created_at in bind.execute(sa.select(staff.c.id, staff.c.created_at)).all():
        issued = _aware(created_at)
        bind.execute(
            staff.update()
            .where(staff.c.id == account_id)
            .values(issued_at=issued, expires_at=max(upgraded, issued) + GRACE)
        )
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.alter_column("issued_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_check_constraint("token_lifetime", "expires_at > issued_at")


def downgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_staff_user_token_lifetime"), type_="check")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("issued_at")
