"""Audit entries are written by the service that makes a change, inside its transaction.

Every entry names the region it concerns (a county's 12-digit code, or the caller's region for a
change that belongs to no county), so staff see the entries of their own region.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from backend.models import AuditEntry


@dataclass(frozen=True)
class Note:
    """An audit entry to write once a change has happened (see backend.states.transitions)."""

    actor: str
    action: str
    region_code: str | None  # required: who sees the entry depends on it
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    region_code: str | None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor, action=action, target=target, region_code=region_code, detail=detail or {}
    )
    session.add(entry)
    return entry


def write(session: Session, note: Note) -> AuditEntry:
    return record(
        session,
        actor=note.actor,
        action=note.action,
        target=note.target,
        region_code=note.region_code,
        detail=note.detail,
    )
