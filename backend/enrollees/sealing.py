"""Key rotation of the sealed ID numbers: re-seal, under the current key, what an older key sealed.

After a new key is put first in ID_ENCRYPTION_KEYS (the old one kept after it), new rows are
sealed under it at once and old rows still open; `flask ids reencrypt` then moves the old rows,
a batch per transaction, so the old key can be dropped from the setting once it reports nothing
left. The hashes do not change (ID_HASH_KEY is not rotated: every stored hash would go stale).
Bodies kept for sending again (ledger messages, collector batches) carry sealed numbers too and
are moved the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, select

from backend.infra.id_vault import SEALED_KEY, IdVault
from backend.infra.uow import UnitOfWork
from backend.models import CollectorBatch, Enrollee, LedgerMessage


@dataclass
class Moved:
    enrollees: int = 0
    bodies: int = 0

    def __str__(self) -> str:
        return f"re-sealed {self.enrollees} enrollees and {self.bodies} kept message bodies"


def reencrypt(uow: UnitOfWork, vault: IdVault, *, batch: int = 1000) -> Moved:
    """Re-seal every ID number not under the current key, `batch` rows per transaction."""
    moved = Moved()
    stale = ~Enrollee.id_sealed.startswith(vault.current_kid + ":", autoescape=True)
    after = 0
    while True:
        with uow as session:
            people = session.scalars(
                select(Enrollee)
                .where(stale, Enrollee.id > after)
                .order_by(Enrollee.id)
                .limit(batch)
            ).all()
            for person in people:
                person.id_sealed = vault.seal(vault.open(person.id_sealed))
        if not people:
            break
        moved.enrollees += len(people)
        after = people[-1].id
    for model, columns in (
        (LedgerMessage, ("payload",)),
        (CollectorBatch, ("declaration", "booking")),
    ):
        for column in columns:
            moved.bodies += _bodies(uow, vault, model, column, batch)
    return moved


def _bodies(uow: UnitOfWork, vault: IdVault, model: Any, column: str, batch: int) -> int:
    attribute = getattr(model, column)
    # Only bodies with a sealed number in them are read (a text search of the JSON).
    holding = cast(attribute, String).contains(f'"{SEALED_KEY}"')
    moved, after = 0, 0
    while True:
        with uow as session:
            rows = session.scalars(
                select(model).where(holding, model.id > after).order_by(model.id).limit(batch)
            ).all()
            for row in rows:
                body = getattr(row, column)
                fresh = _reseal(body, vault)
                if fresh != body:
                    setattr(row, column, fresh)
                    moved += 1
        if not rows:
            return moved
        after = rows[-1].id


def _again(sealed: str, vault: IdVault) -> str:
    return sealed if vault.is_current(sealed) else vault.seal(vault.open(sealed))


def _reseal(body: Any, vault: IdVault) -> Any:
    if isinstance(body, dict):
        return {
            k: _again(v, vault) if k == SEALED_KEY else _reseal(v, vault) for k, v in body.items()
        }
    if isinstance(body, list):
        return [_reseal(v, vault) for v in body]
    return body
