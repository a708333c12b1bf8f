"""collector and school roles, registration pushes

Staff accounts for collecting units (collector) and schools (school, with the school's code), and
a third kind of tax ledger message: a registration pushed to the bureau before it collects.

Revision ID: 7189fd907200
Revises: 1b3f68603868
Create Date: 2026-12-03 15:52:01.340408
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7189fd907200"
down_revision: str | None = "1b3f68603868"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "role IN ('viewer', 'agency', 'recon', 'admin')"
NEW_ROLES = "role IN ('viewer', 'agency', 'recon', 'admin', 'collector', 'school')"
OLD_KINDS = "kind IN ('payment', 'reversal')"
NEW_KINDS = "kind IN ('payment', 'reversal', 'registration')"
OLD_ONE_PAYMENT = "(order_item_id IS NULL) <> (government_item_id IS NULL)"
NEW_ONE_PAYMENT = (
    "(kind = 'registration' AND order_item_id IS NULL AND government_item_id IS NULL)"
    " OR (kind <> 'registration' AND (order_item_id IS NULL) <> (government_item_id IS NULL))"
)


def upgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("school_code", sa.String(length=32), nullable=True))
        batch_op.drop_constraint(op.f("ck_staff_user_role"), type_="check")
        batch_op.create_check_constraint("role", NEW_ROLES)
        batch_op.create_check_constraint(
            "school_code", "(role = 'school') = (school_code IS NOT NULL)"
        )
    with op.batch_alter_table("ledger_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_message_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_ledger_message_one_payment"), type_="check")
        batch_op.create_check_constraint("kind", NEW_KINDS)
        batch_op.create_check_constraint("one_payment", NEW_ONE_PAYMENT)


def downgrade() -> None:
    op.execute("DELETE FROM ledger_attempt WHERE message_id IN "
               "(SELECT id FROM ledger_message WHERE kind = 'registration')")
    op.execute("DELETE FROM ledger_message WHERE kind = 'registration'")
    with op.batch_alter_table("ledger_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_message_one_payment"), type_="check")
        batch_op.drop_constraint(op.f("ck_ledger_message_kind"), type_="check")
        batch_op.create_check_constraint("kind", OLD_KINDS)
        batch_op.create_check_constraint("one_payment", OLD_ONE_PAYMENT)
    op.execute("DELETE FROM staff_user WHERE role IN ('collector', 'school')")
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_staff_user_school_code"), type_="check")
        batch_op.drop_constraint(op.f("ck_staff_user_role"), type_="check")
        batch_op.create_check_constraint("role", OLD_ROLES)
        batch_op.drop_column("school_code")
