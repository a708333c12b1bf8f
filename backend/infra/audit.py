"""Audit entries are written by the service that makes a change, inside its transaction.

Every entry names the region it concerns (a county's 12-digit code; the city's for a change of
the whole city, such as a bill pull; the caller's region for a change that belongs to no county),
so staff see the entries of their own region: an entry without one would be shown to nobody but
the command line, so writing one is a programming error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Insert, bindparam, insert, literal, select
from sqlalchemy.orm import Session

from backend.models import AuditEntry

_entries = AuditEntry.__table__


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
    if not region_code:
        raise ValueError(f"the audit entry {action} of {target} names no region")
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


def entry_statement(
    action: str,
    *,
    occurred_at: ColumnElement,
    target_param: str,
    region_code: ColumnElement,
) -> Insert:
    """One entry as a statement, for writes built once and run compiled (or chained in one).

    The actor and detail come from the bind parameters b_actor and b_detail, the target from
    `target_param`; the region is a column or parameter of the caller's statement."""
    return insert(_entries).from_select(
        ["occurred_at", "actor", "action", "target", "region_code", "detail"],
        select(
            occurred_at,
            bindparam("b_actor", type_=_entries.c.actor.type),
            literal(action),
            bindparam(target_param, type_=_entries.c.target.type),
            region_code,
            bindparam("b_detail", type_=_entries.c.detail.type),
        ),
    )
