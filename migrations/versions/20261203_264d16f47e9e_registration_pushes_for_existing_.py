"""registration pushes for existing registrations, and a claim index of pending messages

The bureau refuses a payment whose collection serial it was never pushed, and the worker holds a
payment back until its registration has a delivered push: a database from before pushes gets one
pending push per registration that has none (set-based), due since the registration was made, so
the worker sends them first. The workers' claims read a partial index of pending messages by
kind and due time instead of the due-time index over every message ever sent.

Revision ID: 264d16f47e9e
Revises: e0629814b73b
Create Date: 2026-12-03 17:10:00.000000
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "264d16f47e9e"
down_revision: str | None = "e0629814b73b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("ledger_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_message_next_attempt_at"))
        batch_op.create_index(
            "ix_ledger_message_due",
            ["kind", "next_attempt_at", "id"],
            unique=False,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )
    # message_id as backend.ledger.pushes writes it: 'reg-<registration id>-<8 hex>'.
    op.execute(
        sa.text(
            "INSERT INTO ledger_message (message_id, kind, registration_id, status, attempts,"
            " next_attempt_at, created_at, updated_at)"
            " SELECT 'reg-' || CAST(r.id AS VARCHAR(20)) || :tag, 'registration', r.id,"
            " 'pending', 0, r.created_at, r.created_at, r.created_at"
            " FROM registration r"
            " WHERE NOT EXISTS (SELECT 1 FROM ledger_message m"
            " WHERE m.registration_id = r.id AND m.kind = 'registration')"
        ).bindparams(tag=f"-{secrets.token_hex(4)}")
    )


def downgrade() -> None:
    # The pushes stay: they are messages like any other (7189fd907200 removes the kind).
    with op.batch_alter_table("ledger_message", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_ledger_message_due", postgresql_where=PENDING, sqlite_where=PENDING
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_message_next_attempt_at"), ["next_attempt_at"], unique=False
        )
