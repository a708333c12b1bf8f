"""Registrations pushed to the tax bureau before it collects (design.md section 8, the work plan's
sections 三(三) and 三(四)): one outbox message per registration an import added or changed.

Written set-based in the transaction that adds or changes the registrations, so a crash cannot
lose a push and an import pays one INSERT … SELECT for all of its rows. The body is built when
the message is first sent (backend.ledger.outbox, `push_bodies`), from the registration as it is
then; a later change writes a new message, so the bureau always ends with the latest.

The amounts a push names are the fee engine's quote of the registration with the person's
special-group memberships of the policy's collection year; for pension, at the lowest grade open
to the person (the 100-yuan grade for the groups the government pays for, otherwise 200), the
amount a collector asks for unless the person chooses a higher grade.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, String, cast, insert, literal, select
from sqlalchemy.orm import aliased

from backend.enrollees.groups import groups_by_year
from backend.fees import NotEligible, PolicyBook, PolicyNotFound, quote
from backend.government.eligible import candidates
from backend.infra import id_vault
from backend.models import LedgerMessage, Registration
from backend.states.ledger import MessageStatus
from backend.values.labels import registration_label

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


def pushed(registration_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the bureau has the registration `registration_id` names (a delivered push): what
    a payment, or a collecting unit's declaration, waits for."""
    push = aliased(LedgerMessage)
    return (
        select(push.id)
        .where(
            push.registration_id == registration_id,
            push.kind == REGISTRATION,
            push.status == MessageStatus.DELIVERED.value,
        )
        .exists()
    )


class NotPriceable(Exception):
    """The fee engine cannot price the registration (no policy yet, or the person may not join
    the scheme): its push waits, retried like a refused message. `str()` says why, in Chinese."""


def push_bodies(
    connection: Connection, book: PolicyBook, message_ids: Sequence[int]
) -> dict[int, dict[str, Any] | NotPriceable]:
    """The body of each registration message (by row id), priced now: one query for the lot."""
    if not message_ids:
        return {}
    rows = connection.execute(
        candidates()
        .add_columns(_ledger.c.id.label("message_row"), _ledger.c.message_id)
        .join(_ledger, _ledger.c.registration_id == Registration.id)
        .where(_ledger.c.id.in_(list(message_ids)))
    )
    bodies: dict[int, dict[str, Any] | NotPriceable] = {}
    for row in rows:
        try:
            payable_fen, gov_paid_fen = push_amounts(book, row)
        except NotPriceable as exc:
            bodies[row.message_row] = exc
            continue
        bodies[row.message_row] = {
            "message_id": row.message_id,
            "collection_no": row.collection_no,
            "id_number": id_vault.open_sealed(row.id_sealed),
            "name": row.name,
            "scheme": row.scheme,
            "period_year": row.period_year,
            "region_code": row.village_code,
            "payable_fen": payable_fen,
            "gov_paid_fen": gov_paid_fen,
        }
    return bodies


def push_amounts(book: PolicyBook, row: Any) -> tuple[int, int]:
    """(payable_fen, gov_paid_fen) of a registration row (as `candidates()` reads it), pension
    at the lowest grade open to the person. Raises NotPriceable."""
    policy = _policy_of(book, row)
    groups = groups_by_year(row.memberships).get(policy.collection_year, frozenset())
    try:
        priced = quote(
            policy, birth_date=row.birth_date, groups=groups, is_student=row.school_code is not None
        )
    except NotEligible as exc:
        raise NotPriceable(f"无法计价：{exc.reason}") from None
    return priced.payable_fen, priced.gov_paid_fen


# A school pays a student's later years at once, "each year at the current share" (design.md
# section 4): a year no policy prices yet is priced by the latest one before it.
STUDENT_YEARS_BACK = 10


def _policy_of(book: PolicyBook, row: Any):
    years = [row.period_year]
    if row.school_code is not None:
        years += range(row.period_year - 1, row.period_year - STUDENT_YEARS_BACK, -1)
    for year in years:
        try:
            return book.scheme_policy(row.village_code, row.scheme, year)
        except PolicyNotFound:
            continue
    label = registration_label(row.scheme, row.period_year)
    raise NotPriceable(f"{label}缴费政策尚未发布（{row.village_code}），暂不能推送")
