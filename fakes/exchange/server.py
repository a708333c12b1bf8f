"""The fake data exchange platform (数据交换平台): a real HTTP server the backend's booking push
talks to unmodified.

Protocol (the same signing as the tax ledger's, design.md section 8): JSON bodies, headers
X-Timestamp (Unix seconds) and X-Signature (lowercase hex HMAC-SHA256 of the timestamp, method,
path and body with the shared EXCHANGE_SECRET, docs/protocol.md); a timestamp more than 300 s off is refused.

    POST /bookings   {booking_id, declaration_no, county_code, collecting_unit, channel, count,
                      total_fen, details: [{collection_no, id_number, scheme, period_year,
                      amount_fen, tax_receipt_no, entered_at}]}
                     -> 200 {booking_id, ack_ref}; a booking_id already received answers the
                     same ack_ref (one more delivery). 401 bad signature, 400 bad body (count and
                     total must add up), faults 503/500.
Control, JSON
    GET  /_control/health
    POST /_control/reset                 forget bookings and faults
    GET  /_control/faults
    POST /_control/faults                {"down", "error_500": bool, "fail_next": count}
    GET  /_control/bookings              [{booking_id, ack_ref, body, received_at, deliveries}]
    GET  /_control/bookings/<booking_id>
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask, current_app, jsonify, request

from backend.config import Config
from fakes.tax import signing

BEIJING = timezone(timedelta(hours=8))
BOOL_FAULTS = ("down", "error_500")
KNOWN_FAULTS = (*BOOL_FAULTS, "fail_next")
DETAIL_FIELDS = (
    "collection_no",
    "id_number",
    "scheme",
    "period_year",
    "amount_fen",
    "tax_receipt_no",
    "entered_at",
)


@dataclass
class Booking:
    booking_id: str
    ack_ref: str
    body: dict[str, Any]
    received_at: str
    deliveries: int = 1


class Exchange:
    def __init__(self, secret: str, clock: Callable[[], float]) -> None:
        self.secret = secret
        self.clock = clock
        self.lock = threading.Lock()
        self.bookings: dict[str, Booking] = {}
        self.faults: dict[str, Any] = {}

    def accept(self, body: dict[str, Any]) -> Booking:
        with self.lock:
            known = self.bookings.get(body["booking_id"])
            if known is not None:
                known.deliveries += 1
                return known
            now = self.clock()
            booking = Booking(
                booking_id=body["booking_id"],
                ack_ref=f"X{datetime.fromtimestamp(now, BEIJING):%Y%m%d}{uuid.uuid4().hex[:10].upper()}",
                body=body,
                received_at=datetime.fromtimestamp(now, BEIJING).isoformat(timespec="seconds"),
            )
            self.bookings[booking.booking_id] = booking
            return booking

    def fault(self, name: str) -> Any:
        with self.lock:
            return self.faults.get(name)

    def take_failure(self) -> bool:
        with self.lock:
            left = self.faults.get("fail_next") or 0
            if left <= 0:
                return False
            self.faults["fail_next"] = left - 1
            return True


def booking_problem(body: dict[str, Any]) -> str | None:
    for name in ("booking_id", "declaration_no", "county_code", "count", "total_fen"):
        if body.get(name) in (None, ""):
            return f"missing field: {name}"
    details = body.get("details")
    if not isinstance(details, list) or not details:
        return "details must be a non-empty list"
    for detail in details:
        if not isinstance(detail, dict):
            return "each detail must be an object"
        missing = [n for n in DETAIL_FIELDS if detail.get(n) in (None, "")]
        if missing:
            return f"a detail lacks {', '.join(missing)}"
        amount = detail["amount_fen"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return "amount_fen must be a positive integer (fen)"
    if body["count"] != len(details):
        return "count is not the number of details"
    if body["total_fen"] != sum(d["amount_fen"] for d in details):
        return "total_fen is not the sum of the details"
    return None


def _exchange() -> Exchange:
    return current_app.extensions["fake_exchange"]


def bookings_endpoint():
    exchange = _exchange()
    if exchange.fault("down"):
        return jsonify(error="unavailable", message="the exchange is down for maintenance"), 503
    if exchange.fault("error_500") or exchange.take_failure():
        return jsonify(error="internal_error", message="nothing was recorded"), 500
    raw = request.get_data(cache=False)
    problem = signing.check(
        exchange.secret,
        raw,
        now=exchange.clock(),
    )
    if problem:
        return jsonify(error="bad_signature", message=problem), 401
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return jsonify(error="invalid_body", message="the body must be UTF-8 JSON"), 400
    if not isinstance(body, dict):
        return jsonify(error="invalid_body", message="the body must be a JSON object"), 400
    problem = booking_problem(body)
    if problem:
        return jsonify(error="invalid_body", message=problem), 400
    booking = exchange.accept(body)
    return jsonify(booking_id=booking.booking_id, ack_ref=booking.ack_ref)


def health():
    return jsonify(status="ok")


def reset():
    exchange = _exchange()
    with exchange.lock:
        exchange.bookings.clear()
        exchange.faults.clear()
    return jsonify(status="reset")


def faults():
    exchange = _exchange()
    if request.method == "GET":
        with exchange.lock:
            return jsonify(faults=dict(exchange.faults))
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) - set(KNOWN_FAULTS):
        return jsonify(error="a JSON object of known switches", known=KNOWN_FAULTS), 400
    fail_next = body.get("fail_next", 0) or 0
    if not isinstance(fail_next, int) or isinstance(fail_next, bool) or fail_next < 0:
        return jsonify(error="fail_next must be a non-negative whole number"), 400
    with exchange.lock:
        for name, value in body.items():
            exchange.faults[name] = bool(value) if name in BOOL_FAULTS else int(value or 0)
        return jsonify(faults=dict(exchange.faults))


def listing():
    exchange = _exchange()
    with exchange.lock:
        return jsonify([asdict(b) for b in exchange.bookings.values()])


def one(booking_id: str):
    exchange = _exchange()
    with exchange.lock:
        found = exchange.bookings.get(booking_id)
        return (jsonify(asdict(found)), 200) if found else (jsonify(error="unknown booking"), 404)


def create_app(secret: str | None = None, clock: Callable[[], float] | None = None) -> Flask:
    """The fake exchange. `secret` defaults to the backend's EXCHANGE_SECRET; `clock` gives epoch
    seconds (signature checks, receipt times)."""
    app = Flask(__name__)
    app.extensions["fake_exchange"] = Exchange(
        secret or Config().EXCHANGE_SECRET, clock or time.time
    )
    app.add_url_rule("/bookings", view_func=bookings_endpoint, methods=["POST"])
    app.add_url_rule("/_control/health", view_func=health)
    app.add_url_rule("/_control/reset", view_func=reset, methods=["POST"])
    app.add_url_rule("/_control/faults", view_func=faults, methods=["GET", "POST"])
    app.add_url_rule("/_control/bookings", view_func=listing)
    app.add_url_rule("/_control/bookings/<booking_id>", view_func=one)
    return app
