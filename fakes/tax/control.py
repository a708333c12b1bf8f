"""Control endpoints for tests and demos (JSON, unsigned): health, reset, faults, messages and
sending a confirmation now."""

from __future__ import annotations

import math

from flask import Blueprint, current_app, jsonify, request

from fakes.tax.ledger import BOOL_FAULTS, KNOWN_FAULTS

blp = Blueprint("control", __name__, url_prefix="/_control")


def bureau():
    return current_app.extensions["fake_tax"]


@blp.get("/health")
def health():
    return jsonify(status="ok")


@blp.post("/reset")
def reset():
    """Forget every message and fault; confirmations under way are dropped."""
    bureau().reset()
    return jsonify(status="reset")


@blp.get("/faults")
def current_faults():
    return jsonify(faults=bureau().ledger.set_faults({}))


@blp.post("/faults")
def faults():
    """`{"down": true, "slow": 1.5, "fail_next": 2, ...}`: switches stay until switched off
    (fail_next counts down by itself)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="a JSON object of switches is required", known=KNOWN_FAULTS), 400
    unknown = set(body) - set(KNOWN_FAULTS)
    if unknown:
        return jsonify(error=f"unknown faults: {sorted(unknown)}", known=KNOWN_FAULTS), 400
    for name, value in body.items():
        if name in BOOL_FAULTS:
            continue
        number = value or 0
        valid = isinstance(number, int | float) and not isinstance(number, bool)
        if name == "fail_next":
            valid = valid and float(number).is_integer()
        if not valid or number < 0 or not math.isfinite(number):
            return jsonify(error=f"{name} must be a non-negative number"), 400
    return jsonify(faults=bureau().ledger.set_faults(body))


@blp.get("/messages")
def messages():
    """Every accepted message, in the order received."""
    return jsonify(bureau().ledger.views())


@blp.get("/messages/<message_id>")
def message(message_id: str):
    view = bureau().ledger.view(message_id)
    if view is None:
        return jsonify(error="unknown message_id"), 404
    return jsonify(view)


@blp.post("/confirm")
def confirm():
    """`{"message_id"}`: send the payment's confirmation (again) now, with retries."""
    body = request.get_json(silent=True) or {}
    message_id = body.get("message_id") if isinstance(body, dict) else None
    view = bureau().ledger.view(message_id) if isinstance(message_id, str) else None
    if view is None:
        return jsonify(error="unknown message_id"), 404
    if view["confirmation"] is None:
        return jsonify(error="only payments are confirmed"), 409
    bureau().confirmer.send(message_id)
    return jsonify(status="sending", message_id=message_id, ledger_ref=view["ledger_ref"]), 202
