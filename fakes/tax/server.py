"""The fake tax bureau ledger: a real HTTP server the backend's ledger client talks to unmodified.

Protocol (design.md section 8): JSON bodies, headers X-Timestamp (Unix seconds) and X-Signature
(lowercase hex HMAC-SHA256 of the timestamp, method, path and body with the shared
TAX_LEDGER_SECRET, docs/protocol.md), in
both directions; a timestamp more than 300 s off is refused.

Ledger API (api.py)
    POST /payments     {message_id, collection_no, id_number, name, scheme, period_year,
                        amount_fen, paid_at, channel, order_no, transaction_id} -> {"ledger_ref"}
                       (channel government: payer "finance", transaction_id null)
    POST /reversals    {message_id, ...} (ledger_ref or original message_id, amount_fen, reason)
                       -> {"ledger_ref"}
    POST /registrations {batch_id, registrations: [{message_id, collection_no, id_number, name,
                        scheme, period_year, region_code, payable_fen, gov_paid_fen}, ...]}
                       -> {batch_id, results: [{message_id, collection_no, status: accepted,
                        ledger_ref} | {..., status: refused, code, reason}]} (registrations.py)
    401 {"error": "bad_signature"}, 400 {"error": "invalid_body"}, faults 503/500; a repeated
    message_id answers the same ledger_ref and counts one more delivery. A payment whose
    collection_no was never pushed: 409 {"code": "unknown_collection_no", "message"}.
Confirmation (confirmations.py): `confirm_delay` seconds (times `time_scale`) after a new payment,
    POST {callback_url} {ledger_ref, message_id, tax_receipt_no, entered_at}, signed the same way,
    retried after 10 s, 30 s, 2 min, 10 min, 30 min (times `time_scale`) until a 2xx.
Control, JSON (control.py)
    GET  /_control/health
    POST /_control/reset                  forget messages and faults, drop pending confirmations
    GET  /_control/faults
    POST /_control/faults                 {"down", "error_500", "wrong_signature",
                                           "duplicate_confirmation", "no_confirmation": bool,
                                           "slow": seconds, "fail_next": count}
    GET  /_control/messages               [message, ...]
    GET  /_control/messages/<message_id>  {message_id, ledger_ref, kind, body, received_at,
                                           deliveries, confirmation: {tax_receipt_no, entered_at,
                                           acknowledged, attempts: [{at, status, error}]} | null}
    POST /_control/confirm                {"message_id"}: send the confirmation (again) now
    GET  /_control/registrations          {batches, registrations: [{collection_no, message_id,
                                           ledger_ref, body, received_at, deliveries, pushes}]}
    POST /_control/registrations          {"registrations": [...]}: pushes received earlier
    DELETE /_control/registrations/<no>   forget one, as if never pushed
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from backend.config import Config
from fakes.json_store import JsonStore
from fakes.tax import api, control, registrations, signing
from fakes.tax.confirmations import Confirmer
from fakes.tax.ledger import Ledger
from fakes.tax.registrations import Registrations

DEFAULT_CALLBACK_URL = "http://127.0.0.1:8000/api/tax/v1/treasury-entries"


@dataclass
class TaxBureau:
    secret: str
    ledger: Ledger
    registrations: Registrations
    confirmer: Confirmer
    confirm_delay_s: float  # before scaling
    clock: Callable[[], float]
    tolerance_s: float = signing.TOLERANCE_S

    def reset(self) -> None:
        self.confirmer.cancel_pending()
        self.ledger.reset()
        self.registrations.reset()

    def close(self) -> None:
        """Stop background work (confirmation deliveries)."""
        self.confirmer.close()


def create_app(
    secret: str | None = None,
    callback_url: str | None = None,
    time_scale: float = 1.0,
    confirm_delay: float = 2.0,
    clock: Callable[[], float] | None = None,
    *,
    state_file: str | None = None,
    callback_timeout: float = 5.0,
) -> Flask:
    """The fake bureau; every argument optional.

    `secret` defaults to the backend's TAX_LEDGER_SECRET, `callback_url` to $TAX_CALLBACK_URL or
    the backend's treasury-entries endpoint on port 8000. `time_scale` multiplies the confirmation
    delay and retry waits (0.01 is 100 times faster). `clock` gives epoch seconds (timestamp checks,
    ledger times). `state_file` keeps messages in a JSON file across restarts. Call
    `app.extensions["fake_tax"].close()` to stop its background threads.
    """
    clock = clock or time.time
    secret = secret or Config().TAX_LEDGER_SECRET
    callback_url = callback_url or os.environ.get("TAX_CALLBACK_URL") or DEFAULT_CALLBACK_URL
    pushed = Registrations(
        clock=clock,
        store=JsonStore(_beside(state_file, "registrations"), "registrations")
        if state_file
        else None,
    )
    ledger = Ledger(
        clock=clock,
        store=JsonStore(state_file, "messages") if state_file else None,
        admit=pushed.admit,
    )
    confirmer = Confirmer(
        ledger,
        secret,
        callback_url,
        time_scale=time_scale,
        timeout_s=callback_timeout,
        clock=clock,
    )
    app = Flask(__name__)
    app.extensions["fake_tax"] = TaxBureau(
        secret=secret,
        ledger=ledger,
        registrations=pushed,
        confirmer=confirmer,
        confirm_delay_s=confirm_delay,
        clock=clock,
    )
    app.register_blueprint(api.blp)
    app.register_blueprint(control.blp)
    app.register_blueprint(registrations.control)
    app.register_error_handler(registrations.UnknownCollectionNo, registrations.refuse_unknown)
    return app


def _beside(state_file: str, name: str) -> str:
    """var/fake-tax-state.json -> var/fake-tax-state-registrations.json"""
    path = Path(state_file)
    return str(path.with_name(f"{path.stem}-{name}{path.suffix or '.json'}"))
