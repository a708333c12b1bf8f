"""Registrations pushed to the tax bureau before it collects (design.md section 8, the work plan's
sections 三(三) and 三(四)): one outbox message per registration an import added or changed.

Written set-based in the transaction that adds or changes the registrations, so a crash cannot
lose a push and an import pays one INSERT … SELECT for all of its rows. The body is built when
the message is first sent (backend.ledger.outbox), from the registration as it is then; a later
change writes a new message, so the bureau always ends with the latest.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Select, String, cast, insert, literal, select

from backend.models import LedgerMessage, Registration
from backend.states.ledger import MessageStatus

REGISTRATION = "registration"  # the message kind

_ledger, _registrations = LedgerMessage.__table__, Registration.__table__


def push_statement(chosen: Select, *, now: datetime):
    """INSERT … SELECT of one pending registration message per registration id `chosen`
    selects (a one-column select of registration ids)."""
    # message_id: 'reg-<registration id>-<8 hex>'; the random part tells this push of the
    # registration from a later one after it changed.
    tag = secrets.token_hex(4)
    ids = chosen.subquery("chosen")
    return insert(_ledger).from_select(
        [
            "message_id",
            "kind",
            "registration_id",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "updated_at",
        ],
        select(
            literal("reg-") + cast(ids.c[0], String) + literal(f"-{tag}"),
            literal(REGISTRATION),
            ids.c[0],
            literal(MessageStatus.PENDING.value),
            literal(0),
            literal(now, _ledger.c.next_attempt_at.type),
            literal(now, _ledger.c.created_at.type),
            literal(now, _ledger.c.updated_at.type),
        ),
    )


def enqueue_pushes(
    connection: Connection, registration_ids: Select | Sequence[int], *, now: datetime
) -> int:
    """Write a push message for each registration named (ids, or a select of ids), in the
    caller's transaction; how many were written."""
    if not isinstance(registration_ids, Select):
        if not registration_ids:
            return 0
        registration_ids = select(_registrations.c.id).where(
            _registrations.c.id.in_(list(registration_ids))
        )
    result = connection.execute(
        push_statement(registration_ids, now=now),
        # psycopg reports no row count for an INSERT … SELECT unless asked to keep it.
        execution_options={"preserve_rowcount": True},
    )
    return result.rowcount
