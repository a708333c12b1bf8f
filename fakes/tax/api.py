"""The bureau's ledger API: POST /payments and POST /reversals, signed JSON both ways.

Order of checks: faults (slow, down, error_500, fail_next), then the signature and timestamp
(401), then the body (400). A message is accepted once per message_id; a repeat answers the
same ledger_ref. A new payment is confirmed later by a signed callback (confirmations.py).
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from fakes.tax import declarations, signing
from fakes.tax import registrations as pushed
from fakes.tax.ledger import PAYMENT, PAYMENT_FIELDS, REVERSAL

blp = Blueprint("ledger_api", __name__)


def error(status: int, code: str, message: str):
    return jsonify(error=code, message=message), status


def payment_problem(body: dict[str, Any]) -> str | None:
    missing = [name for name in PAYMENT_FIELDS if body.get(name) in (None, "")]
    if body.get("channel") == "government":
        # Paid by finance (代缴): no WeChat transaction; the payer must say so.
        missing = [name for name in missing if name != "transaction_id"]
        if body.get("payer") != "finance":
            return "a government payment must name payer: finance"
    if missing:
        return f"missing fields: {', '.join(missing)}"
    if not isinstance(body["message_id"], str):
        return "message_id must be a string"
    amount = body["amount_fen"]
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "amount_fen must be a positive integer (fen)"
    return None


def reversal_problem(body: dict[str, Any], ledger) -> str | None:
    """A reversal must undo (part of) a payment the bureau holds, named by its ledger_ref."""
    if not isinstance(body.get("message_id"), str) or not body["message_id"]:
        return "message_id is required"
    amount = body.get("amount_fen")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "amount_fen must be a positive integer (fen)"
    original = ledger.payment_by_ref(body.get("ledger_ref"))
    if original is None:
        return "ledger_ref does not name a payment in the ledger"
    if amount > original.body["amount_fen"]:
        return "amount_fen exceeds the payment it reverses"
    return None


def receive(kind: str):
    bureau = current_app.extensions["fake_tax"]
    ledger = bureau.ledger
    slow = ledger.fault("slow")
    if slow:
        time.sleep(slow)
    if ledger.fault("down"):
        return error(503, "unavailable", "the ledger is down for maintenance")
    if ledger.fault("error_500") or ledger.take_failure():
        return error(500, "internal_error", "the ledger failed; nothing was recorded")
    raw = request.get_data(cache=False)
    problem = signing.check(
        bureau.secret,
        raw,
        now=bureau.clock(),
        tolerance_s=bureau.tolerance_s,
    )
    if problem:
        return error(401, "bad_signature", problem)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return error(400, "invalid_body", "the body must be UTF-8 JSON")
    if not isinstance(body, dict):
        return error(400, "invalid_body", "the body must be a JSON object")
    problem = payment_problem(body) if kind == PAYMENT else reversal_problem(body, ledger)
    if problem:
        return error(400, "invalid_body", problem)
    message, new = ledger.accept(kind, body)
    if new and kind == PAYMENT and not ledger.fault("no_confirmation"):
        bureau.confirmer.send(message.message_id, delay_s=bureau.confirm_delay_s)
    return jsonify(ledger_ref=message.ledger_ref)


@blp.post("/payments")
def payments():
    return receive(PAYMENT)


@blp.post("/reversals")
def reversals():
    return receive(REVERSAL)


@blp.post("/registrations")
def registrations():
    return pushed.receive_batch()


# A collecting unit's declaration (单据号) and its control endpoints: fakes/tax/declarations.py.
blp.add_url_rule("/declarations", view_func=declarations.receive, methods=["POST"])
blp.add_url_rule("/_control/declarations", view_func=declarations.listing)
blp.add_url_rule("/_control/declarations/<declaration_no>", view_func=declarations.one)
for _name in ("refuse", "confirm", "reset"):
    blp.add_url_rule(
        f"/_control/declarations/{_name}",
        endpoint=f"declarations_{_name}",
        view_func=getattr(declarations, _name),
        methods=["POST"],
    )
