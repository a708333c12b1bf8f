"""Audit entries are written by the service that makes a change, inside its transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.models import AuditEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    region_code: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor, action=action, target=target, region_code=region_code, detail=detail or {}
    )
    session.add(entry)
    return entry
