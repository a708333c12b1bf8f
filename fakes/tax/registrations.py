"""The registrations the bureau was pushed, and its refusal of a payment it cannot place.

`POST /registrations` (design.md section 8, the work plan's sections 三(三) and 三(四)) carries a
batch of registrations to collect, signed like every ledger message:

    {"batch_id": "...", "registrations": [{message_id, collection_no, id_number, name, scheme,
     period_year, region_code, payable_fen, gov_paid_fen}, ...]}   (1 to MAX_BATCH of them)

and is answered 200 with one result per registration, in the order sent:

    {"batch_id": "...", "results": [{"message_id", "collection_no", "status": "accepted",
     "ledger_ref"} | {"message_id", "collection_no", "status": "refused", "code", "reason"}]}

A refused registration (code invalid_registration: a field missing or malformed) leaves the
others alone. A message_id already received is the same push: the same ledger_ref, counted as
one more delivery. A new push of a collection serial the bureau holds replaces what it holds
(the registration changed). Faults, the signature and a malformed batch are answered for the
whole batch (503/500, 401, 400), and then nothing of it is kept.

A payment (POST /payments) naming a collection serial the bureau was never pushed, or has
forgotten (`DELETE /_control/registrations/<collection_no>`), is refused: 409
{"code": "unknown_collection_no", "error": "unknown_collection_no", "message": ...}.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from fakes.json_store import JsonStore
from fakes.tax import signing
from fakes.tax.ledger import PAYMENT, beijing_iso, new_ledger_ref

MAX_BATCH = 1000
REGISTRATION_FIELDS = (
    "message_id",
    "collection_no",
    "id_number",
    "name",
    "scheme",
    "period_year",
    "region_code",
    "payable_fen",
    "gov_paid_fen",
)
UNKNOWN = "unknown_collection_no"
_REGION_CODE = re.compile(r"\d{12}")


class UnknownCollectionNo(Exception):
    def __init__(self, collection_no: Any) -> None:
        super().__init__(collection_no)
        self.collection_no = collection_no


@dataclass
class Held:
    """One collection serial the bureau holds, as its latest push named it."""

    collection_no: str
    message_id: str  # the latest push
    ledger_ref: str
    body: dict[str, Any]
    received_at: str
    deliveries: int = 1  # pushes of this serial received, repeats included
    refs: dict[str, str] = field(default_factory=dict)  # every push's message_id -> ledger_ref

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        data["pushes"] = len(data.pop("refs"))
        return data


def registration_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "each registration must be a JSON object"
    missing = [name for name in REGISTRATION_FIELDS if item.get(name) in (None, "")]
    if missing:
        return f"missing fields: {', '.join(missing)}"
    if not all(isinstance(item[n], str) for n in ("message_id", "collection_no", "name")):
        return "message_id, collection_no and name must be strings"
    if not isinstance(item["id_number"], str) or len(item["id_number"]) != 18:
        return "id_number must be 18 characters"
    if item["scheme"] not in ("pension", "medical"):
        return "scheme must be pension or medical"
    if not isinstance(item["region_code"], str) or not _REGION_CODE.fullmatch(item["region_code"]):
        return "region_code must be a 12-digit region code"
    for name in ("period_year", "payable_fen", "gov_paid_fen"):
        value = item[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"{name} must be a non-negative integer"
    return None


class Registrations:
    """Thread-safe; kept in `store` (a JSON file) when given, rewritten once per batch."""

    def __init__(
        self, clock: Callable[[], float] = time.time, store: JsonStore | None = None
    ) -> None:
        self.clock = clock
        self.store = store
        self.lock = threading.Lock()
        self.held: dict[str, Held] = {}
        self.by_message: dict[str, str] = {}  # push message_id -> collection_no
        self.batches = 0  # batches answered 200
        if store is not None:
            for data in store.load():
                self._keep(Held(**data))

    def receive(self, items: list[Any]) -> list[dict[str, Any]]:
        """One batch: the result of each registration, in order."""
        results = []
        with self.lock:
            for item in items:
                problem = registration_problem(item)
                named = item if isinstance(item, dict) else {}
                result = {
                    "message_id": named.get("message_id"),
                    "collection_no": named.get("collection_no"),
                }
                if problem:
                    result.update(status="refused", code="invalid_registration", reason=problem)
                else:
                    result.update(status="accepted", ledger_ref=self._accept(item))
                results.append(result)
            self.batches += 1
            self._save()
        return results

    def load(self, items: list[dict[str, Any]]) -> tuple[int, int]:
        """Pushes received earlier (a demo's history): (added, already held)."""
        added = known = 0
        with self.lock:
            for item in items:
                if item["message_id"] in self.by_message:
                    known += 1
                    continue
                body = {name: item[name] for name in REGISTRATION_FIELDS}
                self._accept(body, item.get("ledger_ref"), item.get("received_at"), count=False)
                added += 1
            self._save()
        return added, known

    def _accept(
        self,
        body: dict[str, Any],
        ledger_ref: str | None = None,
        received_at: str | None = None,
        *,
        count: bool = True,
    ) -> str:
        message_id, number = body["message_id"], body["collection_no"]
        held = self.held.get(self.by_message.get(message_id, ""))
        if held is not None:  # the same push again
            held.deliveries += 1
            return held.refs[message_id]
        now = self.clock()
        ledger_ref = ledger_ref or new_ledger_ref(now)
        received_at = received_at or beijing_iso(now)
        held = self.held.get(number)
        if held is None:
            held = Held(number, message_id, ledger_ref, body, received_at, deliveries=0)
        else:  # a new push of the serial: the registration as it is now
            held.message_id, held.ledger_ref = message_id, ledger_ref
            held.body, held.received_at = body, received_at
        held.deliveries += 1 if count else 0
        held.refs[message_id] = ledger_ref
        self._keep(held)
        return ledger_ref

    def _keep(self, held: Held) -> None:
        self.held[held.collection_no] = held
        for message_id in held.refs:
            self.by_message[message_id] = held.collection_no

    def admit(self, kind: str, body: dict[str, Any]) -> None:
        """The ledger's check before it records a new message: a payment must name a serial
        the bureau holds."""
        if kind == PAYMENT:
            with self.lock:
                if body.get("collection_no") not in self.held:
                    raise UnknownCollectionNo(body.get("collection_no"))

    def forget(self, collection_no: str) -> bool:
        with self.lock:
            held = self.held.pop(collection_no, None)
            if held is None:
                return False
            for message_id in held.refs:
                self.by_message.pop(message_id, None)
            self._save()
            return True

    def views(self) -> dict[str, Any]:
        with self.lock:
            return {
                "batches": self.batches,
                "registrations": [h.view() for h in self.held.values()],
            }

    def reset(self) -> None:
        with self.lock:
            self.held.clear()
            self.by_message.clear()
            self.batches = 0
            self._save()

    def _save(self) -> None:
        if self.store is not None:
            self.store.save([asdict(h) for h in self.held.values()])


# -- HTTP ---------------------------------------------------------------------------------------


def _bureau():
    return current_app.extensions["fake_tax"]


def _error(status: int, code: str, message: str):
    return jsonify(error=code, message=message), status


def receive_batch():
    """POST /registrations, checked in the order of the other ledger calls: faults, signature,
    body."""
    bureau = _bureau()
    ledger = bureau.ledger
    slow = ledger.fault("slow")
    if slow:
        time.sleep(slow)
    if ledger.fault("down"):
        return _error(503, "unavailable", "the ledger is down for maintenance")
    if ledger.fault("error_500") or ledger.take_failure():
        return _error(500, "internal_error", "the ledger failed; nothing was recorded")
    raw = request.get_data(cache=False)
    problem = signing.check(
        bureau.secret,
        raw,
        now=bureau.clock(),
        tolerance_s=bureau.tolerance_s,
    )
    if problem:
        return _error(401, "bad_signature", problem)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _error(400, "invalid_body", "the body must be UTF-8 JSON")
    if not isinstance(body, dict) or not isinstance(body.get("batch_id"), str):
        return _error(400, "invalid_body", "the body must be a JSON object with a batch_id")
    items = body.get("registrations")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        return _error(400, "invalid_body", f"registrations must be a list of 1 to {MAX_BATCH}")
    return jsonify(batch_id=body["batch_id"], results=bureau.registrations.receive(items))


def refuse_unknown(exc: UnknownCollectionNo):
    """409 for a payment whose collection serial the bureau holds no registration of."""
    message = (
        f"collection_no {exc.collection_no} was never pushed to the bureau (POST /registrations);"
        " push the registration, then send the payment again"
    )
    return jsonify(code=UNKNOWN, error=UNKNOWN, message=message), 409


control = Blueprint("control_registrations", __name__, url_prefix="/_control/registrations")


@control.get("")
def held():
    """{"batches": answered, "registrations": [{collection_no, message_id, ledger_ref, body,
    received_at, deliveries, pushes}]}"""
    return jsonify(_bureau().registrations.views())


@control.post("")
def load():
    """`{"registrations": [{<the pushed fields>, "ledger_ref"?, "received_at"?}]}`: pushes the
    bureau received earlier (a demo season's history); not counted as deliveries."""
    body = request.get_json(silent=True)
    items = body.get("registrations") if isinstance(body, dict) else None
    if not isinstance(items, list) or any(registration_problem(i) for i in items):
        return jsonify(error="registrations must be a list of complete registrations"), 400
    added, known = _bureau().registrations.load(items)
    return jsonify(added=added, known=known)


@control.delete("/<collection_no>")
def forget(collection_no: str):
    """Forget a registration, as if never pushed: a payment naming it is refused (409)."""
    if not _bureau().registrations.forget(collection_no):
        return jsonify(error="unknown collection_no"), 404
    return jsonify(forgotten=collection_no)
