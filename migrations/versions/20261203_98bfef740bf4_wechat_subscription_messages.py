"""WeChat subscription messages: allowances per user and kind, and their outbox

Revision ID: 98bfef740bf4
Revises: c41d0b7e9a52
Create Date: 2026-12-03 21:44:01.548232
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "98bfef740bf4"
down_revision: str | None = "c41d0b7e9a52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("banned", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('tax_receipt', 'refund', 'deadline')", name=op.f("ck_subscription_kind")
        ),
        sa.CheckConstraint("remaining >= 0", name=op.f("ck_subscription_remaining_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription")),
        sa.UniqueConstraint("openid", "kind", name=op.f("uq_subscription_openid_kind")),
    )
    op.create_table(
        "wechat_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("page", sa.String(length=128), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('tax_receipt', 'refund', 'deadline')", name=op.f("ck_wechat_message_kind")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'refused', 'dead')",
            name=op.f("ck_wechat_message_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_message")),
        sa.UniqueConstraint(
            "kind", "event_key", "openid", name=op.f("uq_wechat_message_kind_event_key_openid")
        ),
    )
    with op.batch_alter_table("wechat_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_wechat_message_due",
            ["next_attempt_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(batch_op.f("ix_wechat_message_openid"), ["openid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wechat_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wechat_message_openid"))
        batch_op.drop_index(
            "ix_wechat_message_due",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )

    op.drop_table("wechat_message")
    op.drop_table("subscription")
