"""ID numbers at rest: hashed and sealed, never in clear

The enrollee table gets id_hash (HMAC-SHA256 under ID_HASH_KEY, unique: what lookups and imports
search by) and id_sealed (AES-GCM under the first key of ID_ENCRYPTION_KEYS), filled from
id_number, which is then dropped. Bodies kept for sending again (ledger_message.payload,
collector_batch.declaration and booking) get their "id_number" sealed as "id_sealed". The keys
come from the same settings as the application's: set them before running this in production.

Revision ID: acd5e117de4a
Revises: a3c91e5f7d20
Create Date: 2026-12-03 19:30:00.000000
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

from backend.infra import id_vault

revision: str = "acd5e117de4a"
down_revision: str | None = "a3c91e5f7d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000

_enrollee = sa.table(
    "enrollee",
    sa.column("id", sa.Integer),
    sa.column("id_number", sa.String),
    sa.column("id_hash", sa.String),
    sa.column("id_sealed", sa.String),
)
_bodies = (
    sa.table("ledger_message", sa.column("id", sa.Integer), sa.column("payload", sa.JSON)),
    sa.table(
        "collector_batch",
        sa.column("id", sa.Integer),
        sa.column("declaration", sa.JSON),
        sa.column("booking", sa.JSON),
    ),
)


@contextmanager
def _foreign_keys_off(conn) -> Iterator[None]:
    """SQLite drops a column by rebuilding the table, and dropping the old enrollee table trips
    the foreign keys of the rows that reference it; the pragma that turns them off only works
    outside a transaction. So on SQLite what came before is committed first (the database then
    stands at the previous revision), this revision runs as one transaction with the keys off,
    and they are checked before it ends. The keys stay off for the rest of this connection (the
    pragma does nothing inside the transaction); the application's connections turn them on."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    raw.commit()
    raw.execute("PRAGMA foreign_keys=OFF")
    yield
    broken = raw.execute("PRAGMA foreign_key_check").fetchall()
    assert not broken, f"foreign keys broken by the rebuild: {broken[:5]}"


def _each_batch(conn, table: sa.Table, columns: Sequence[str], change: Callable) -> None:
    """Rewrite `columns` of every row through `change(row) -> dict`, BATCH rows at a time."""
    after = 0
    while True:
        rows = conn.execute(
            sa.select(table.c.id, *(table.c[c] for c in columns))
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = [v for v in (change(row) for row in rows) if v]
        if values:
            conn.execute(
                sa.update(table)
                .where(table.c.id == sa.bindparam("b_id"))
                .values({c: sa.bindparam(f"b_{c}") for c in values[0] if c != "id"}),
                [{f"b_{k}": v for k, v in value.items()} for value in values],
            )
        after = rows[-1].id


def _rewrite_bodies(conn, change: Callable[[Any], Any]) -> None:
    for table in _bodies:
        columns = [c.name for c in table.columns if c.name != "id"]

        def changed(row, columns=columns):
            new = {c: change(getattr(row, c)) for c in columns}
            if all(new[c] == getattr(row, c) for c in columns):
                return None
            return {"id": row.id, **new}

        _each_batch(conn, table, columns, changed)


def upgrade() -> None:
    with _foreign_keys_off(op.get_bind()):
        _upgrade(id_vault.current())


def downgrade() -> None:
    with _foreign_keys_off(op.get_bind()):
        _downgrade(id_vault.current())


def _upgrade(vault: id_vault.IdVault) -> None:
    with op.batch_alter_table("enrollee", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("id_sealed", sa.String(length=128), nullable=True))
    conn = op.get_bind()
    _each_batch(
        conn,
        _enrollee,
        ["id_number"],
        lambda row: {
            "id": row.id,
            "id_hash": vault.hash_id(row.id_number),
            "id_sealed": vault.seal(row.id_number),
        },
    )
    _rewrite_bodies(conn, lambda body: body and vault.seal_ids(body))
    with op.batch_alter_table("enrollee") as batch_op:
        batch_op.alter_column("id_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("id_sealed", existing_type=sa.String(length=128), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_enrollee_id_hash"), ["id_hash"])
        batch_op.drop_constraint(batch_op.f("uq_enrollee_id_number"), type_="unique")
        batch_op.drop_column("id_number")


def _downgrade(vault: id_vault.IdVault) -> None:
    with op.batch_alter_table("enrollee", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_number", sa.String(length=18), nullable=True))
    conn = op.get_bind()
    _each_batch(
        conn,
        _enrollee,
        ["id_sealed"],
        lambda row: {"id": row.id, "id_number": vault.open(row.id_sealed)},
    )
    _rewrite_bodies(conn, lambda body: body and vault.open_ids(body))
    with op.batch_alter_table("enrollee") as batch_op:
        batch_op.alter_column("id_number", existing_type=sa.String(length=18), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_enrollee_id_number"), ["id_number"])
        batch_op.drop_constraint(batch_op.f("uq_enrollee_id_hash"), type_="unique")
        batch_op.drop_column("id_sealed")
        batch_op.drop_column("id_hash")
