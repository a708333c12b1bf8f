"""The tax bureau's callback: treasury-entry confirmations, signed like our messages to it."""

from __future__ import annotations

import logging

from flask import current_app, request
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate

from backend.errors import DomainError
from backend.infra.web import clock, unit_of_work
from backend.ledger import confirmations
from backend.ledger.signing import verify

log = logging.getLogger(__name__)

blp = Blueprint(
    "tax",
    __name__,
    url_prefix="/api/tax/v1",
    description="Tax bureau callbacks (X-Timestamp, X-Signature: HMAC-SHA256 with the shared secret)",
)
BLUEPRINTS = [blp]


class TreasuryEntryIn(Schema):
    ledger_ref = fields.String(required=True, validate=validate.Length(1, 64))
    message_id = fields.String(required=True, validate=validate.Length(1, 40))
    tax_receipt_no = fields.String(required=True, validate=validate.Length(1, 32))
    entered_at = fields.AwareDateTime(required=True)


class TreasuryEntryOut(Schema):
    status = fields.String(metadata={"description": "recorded | already_recorded"})


@blp.route("/treasury-entries", methods=["POST"])
@blp.doc(
    requestBody={
        "content": {"application/json": {"schema": TreasuryEntryIn}},
        "description": "signed: X-Timestamp (Unix seconds) and X-Signature over the timestamp, method, path and body (docs/protocol.md)",
    }
)
@blp.response(200, TreasuryEntryOut)
@blp.alt_response(401, description="missing, wrong or stale signature")
@blp.alt_response(409, description="the message already has another receipt number")
@blp.alt_response(422, description="unknown message or another ledger_ref")
def treasury_entry():
    """The bureau confirms that a payment entered the treasury, with its e-tax receipt number."""
    cfg = current_app.config["APP_CONFIG"]
    body = request.get_data()
    problem = verify(
        cfg.TAX_LEDGER_SECRET,
        request.method,
        request.script_root + request.path,
        request.headers.get("X-Timestamp"),
        request.headers.get("X-Signature"),
        body,
        now=clock().now().timestamp(),
        tolerance=cfg.TAX_TIMESTAMP_TOLERANCE_SECONDS,
    )
    if problem:
        log.warning("treasury confirmation rejected: %s", problem)
        abort(401, message=f"confirmation rejected: {problem}")
    try:
        entry = TreasuryEntryIn().loads(body)
    except (ValidationError, ValueError) as exc:
        abort(
            422,
            message="malformed confirmation",
            errors={"json": getattr(exc, "messages", str(exc))},
        )
    try:
        changed = confirmations.confirm(
            unit_of_work(), confirmations.Confirmation(**entry), now=clock().now()
        )
    except DomainError as exc:
        log.warning("treasury confirmation rejected: %s", exc)
        raise
    return {"status": "recorded" if changed else "already_recorded"}
