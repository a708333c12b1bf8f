"""The season's registration pushes: what the ledger worker wrote the day the agencies imported the
registrations, and what the bureau therefore holds.

The registrations were imported on 26 August (season_plan.REGISTERED_AT) and the worker pushed
them within the quarter hour, long before anyone paid: each push message imported then is written
delivered at PUSHED_AT (the body as the worker builds it, priced then; one attempt; a ledger_ref),
in bulk. Then the fake bureau is told every registration it was pushed (POST
/_control/registrations), so the payments the worker sends are placed, as they would be at a real
bureau that kept them. A push written later (an import made while trying the demo) is left to the
worker. Running it again delivers nothing new, and the bureau answers that it knows them all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from backend.fees import PolicyBook
from backend.infra import id_vault
from backend.infra.statements import execute_compiled_many
from backend.ledger.pushes import REGISTRATION, push_bodies
from backend.models import LedgerAttempt, LedgerMessage
from backend.seed.season_plan import REGISTERED_AT
from backend.states.ledger import MessageStatus
from backend.states.transitions import LEDGER_MESSAGES
from backend.values.beijing import BEIJING

PUSHED_AT = REGISTERED_AT + timedelta(minutes=15)
WORKER = "seed-season"
BATCH = 500  # messages per transaction, as the worker pushes them
LOAD_CHUNK = 2000  # registrations per request to the fake bureau

_messages = LedgerMessage.__table__
_DELIVER = LEDGER_MESSAGES.statement(
    "deliver",
    _messages.c.id == bindparam("b_id"),
    payload=bindparam("b_payload", type_=_messages.c.payload.type),
    attempts=1,
    next_attempt_at=bindparam("b_at", type_=_messages.c.next_attempt_at.type),
    ledger_ref=bindparam("b_ledger_ref"),
    delivered_at=bindparam("b_at", type_=_messages.c.delivered_at.type),
    updated_at=bindparam("b_at", type_=_messages.c.updated_at.type),
)


def deliver_imported(open_session: Callable[[], Session], book: PolicyBook) -> int:
    """Deliver, as of PUSHED_AT, the pushes of the season's import still waiting; how many."""
    delivered, after = 0, 0
    while True:
        with open_session() as session:
            connection = session.connection()
            ids = list(
                session.scalars(
                    select(LedgerMessage.id)
                    .where(
                        LedgerMessage.kind == REGISTRATION,
                        LedgerMessage.status == MessageStatus.PENDING.value,
                        LedgerMessage.attempts == 0,
                        LedgerMessage.created_at <= REGISTERED_AT,
                        LedgerMessage.id > after,
                    )
                    .order_by(LedgerMessage.id)
                    .limit(BATCH)
                )
            )
            if not ids:
                return delivered
            after = ids[-1]
            # A registration the fee engine cannot price stays pending, for the worker to show.
            bodies = {
                i: body
                for i, body in push_bodies(connection, book, ids).items()
                if isinstance(body, dict)
            }
            vault = id_vault.current()
            values = [
                {
                    "b_id": i,
                    "b_payload": vault.seal_ids(body),
                    "b_ledger_ref": _ledger_ref(body["message_id"]),
                    "b_at": PUSHED_AT,
                }
                for i, body in bodies.items()
            ]
            if not values:
                continue
            execute_compiled_many(connection, _DELIVER, values)
            connection.execute(
                insert(LedgerAttempt.__table__),
                [
                    {
                        "message_id": i,
                        "attempted_at": PUSHED_AT,
                        "worker": WORKER,
                        "http_status": 200,
                        "outcome": "delivered",
                        "duration_ms": 40,
                    }
                    for i in bodies
                ],
            )
            delivered += len(values)


def _ledger_ref(message_id: str) -> str:
    """The bureau's reference, in its format (fakes.tax.ledger.new_ledger_ref), fixed per push."""
    digest = hashlib.sha256(message_id.encode()).hexdigest()[:12].upper()
    return f"L{PUSHED_AT.astimezone(BEIJING):%Y%m%d}{digest}"


def load_into_bureau(open_session: Callable[[], Session], ledger_url: str) -> str:
    """Tell the fake bureau every push delivered so far (oldest first, so a registration pushed
    again ends as last pushed); what happened, in a line."""
    url = ledger_url.rstrip("/") + "/_control/registrations"
    added = known = 0
    after = 0
    try:
        while True:
            with open_session() as session:
                rows = session.execute(
                    select(
                        LedgerMessage.id,
                        LedgerMessage.payload,
                        LedgerMessage.ledger_ref,
                        LedgerMessage.delivered_at,
                    )
                    .where(
                        LedgerMessage.kind == REGISTRATION,
                        LedgerMessage.status == MessageStatus.DELIVERED.value,
                        LedgerMessage.id > after,
                    )
                    .order_by(LedgerMessage.id)
                    .limit(LOAD_CHUNK)
                ).all()
            if not rows:
                break
            after = rows[-1].id
            answer = requests.post(
                url,
                json={"registrations": [_held(row) for row in rows]},
                timeout=30,
            )
            answer.raise_for_status()
            added += answer.json()["added"]
            known += answer.json()["known"]
    except requests.RequestException as exc:
        return (
            f"not loaded: the fake tax bureau at {ledger_url} did not take them"
            f" ({exc.__class__.__name__}); start it and run this again, or it refuses the"
            " payments as unknown_collection_no"
        )
    return f"{added:,} registrations loaded into the fake tax bureau, {known:,} already there"


def _held(row) -> dict:
    delivered_at: datetime = row.delivered_at
    return {
        **id_vault.current().open_ids(row.payload),
        "ledger_ref": row.ledger_ref,
        "received_at": delivered_at.astimezone(BEIJING).isoformat(timespec="seconds"),
    }
