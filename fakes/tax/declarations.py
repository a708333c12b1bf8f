"""The bureau's side of a collecting unit's declaration (单据号), and its treasury entries.

POST /declarations (signed like every ledger message; the same faults apply: slow, down,
error_500, fail_next, then 401 for a bad signature, 400 for a bad body)
    {declaration_no, county_code, collecting_unit: {kind, name, region_code}, total_fen,
     counts: {pension, medical}, registrations: [{collection_no, id_number, name, scheme,
     period_year, amount_fen, grade_yuan}]}
    -> 200 {declaration_no, declaration_ref, results: [{collection_no, outcome: "accepted"} |
            {collection_no, outcome: "refused", reason, message}]}
    The total and the counts must add up. A declaration_no already received answers the same
    (another body under it: 409). Registrations named by POST /_control/declarations/refuse are
    refused with the reason given there; the others are accepted.
Then, `confirm_delay` seconds (times `time_scale`) later, the treasury entries of the accepted:
    POST {callback}/declaration-entries {declaration_no, entries: [{collection_no,
    tax_receipt_no, entered_at}]}, signed, retried like a payment's confirmation until a 2xx
    (the callback is the confirmations' URL with /treasury-entries replaced). The faults
    no_confirmation (none sent) and wrong_signature apply.
Control, JSON
    GET  /_control/declarations                    [declaration, ...] in the order received
    GET  /_control/declarations/<declaration_no>   {declaration_no, declaration_ref, body,
                                                    results, deliveries, entries: {entries,
                                                    attempts: [{at, status, error}],
                                                    acknowledged} | null}
    POST /_control/declarations/refuse             {"collection_nos": [...], "reason": "...",
                                                    "message": "..."} refuse these from now on;
                                                    {"clear": true} forgets every refusal
    POST /_control/declarations/confirm            {"declaration_no"}: send the entries again now
    POST /_control/declarations/reset              forget declarations and refusals
Registered on the ledger API's blueprint (api.py); its state hangs off the app (created on first
use from the bureau's own settings).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from flask import current_app, jsonify, request

from fakes.tax import signing
from fakes.tax.confirmations import RETRY_SCHEDULE_S, WRONG_SECRET
from fakes.tax.ledger import Attempt, beijing_iso, new_ledger_ref, new_receipt_no

REGISTRATION_FIELDS = (
    "collection_no",
    "id_number",
    "name",
    "scheme",
    "period_year",
    "amount_fen",
)
DEFAULT_REFUSAL = ("registration_unknown", "征集流水号未在税务系统登记")


@dataclass
class Entries:
    entries: list[dict[str, Any]]
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return any(a.status is not None and 200 <= a.status < 300 for a in self.attempts)


@dataclass
class Declaration:
    declaration_no: str
    declaration_ref: str
    body: dict[str, Any]
    results: list[dict[str, Any]]
    received_at: str
    deliveries: int = 1
    entries: Entries | None = None

    def answer(self) -> dict[str, Any]:
        return {
            "declaration_no": self.declaration_no,
            "declaration_ref": self.declaration_ref,
            "results": self.results,
        }

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        if self.entries is not None:
            data["entries"]["acknowledged"] = self.entries.acknowledged
        return data


class Declarations:
    """Every declaration received, the refusals asked for, and the entries' deliveries."""

    def __init__(self, bureau) -> None:
        self.bureau = bureau
        self.lock = threading.Lock()
        self.declarations: dict[str, Declaration] = {}
        self.refusals: dict[str, tuple[str, str]] = {}
        self._cancel = threading.Event()

    def receive(self, body: dict[str, Any]) -> tuple[Declaration, bool] | None:
        """(declaration, new); None when the number is known with another body."""
        number = body["declaration_no"]
        with self.lock:
            known = self.declarations.get(number)
            if known is not None:
                if known.body != body:
                    return None
                known.deliveries += 1
                return known, False
            results = []
            held = self.bureau.registrations.held
            for registration in body["registrations"]:
                refusal = self.refusals.get(registration["collection_no"])
                if refusal is None and registration["collection_no"] not in held:
                    # As for a payment: the bureau collects only what the agency pushed to it.
                    refusal = (
                        "unknown_collection_no",
                        f"税务局未收到征集流水号 {registration['collection_no']} 的参保登记",
                    )
                if refusal is None:
                    results.append(
                        {"collection_no": registration["collection_no"], "outcome": "accepted"}
                    )
                else:
                    reason, message = refusal
                    results.append(
                        {
                            "collection_no": registration["collection_no"],
                            "outcome": "refused",
                            "reason": reason,
                            "message": message,
                        }
                    )
            now = self.bureau.clock()
            declaration = Declaration(
                declaration_no=number,
                declaration_ref=new_ledger_ref(now),
                body=body,
                results=results,
                received_at=beijing_iso(now),
            )
            self.declarations[number] = declaration
            return declaration, True

    def entries_body(self, number: str) -> dict[str, Any] | None:
        """The entries of the accepted registrations; receipt numbers and time fixed the first
        time."""
        with self.lock:
            declaration = self.declarations.get(number)
            if declaration is None:
                return None
            if declaration.entries is None:
                now = self.bureau.clock()
                accepted = [
                    r["collection_no"] for r in declaration.results if r["outcome"] == "accepted"
                ]
                if not accepted:
                    return None
                declaration.entries = Entries(
                    [
                        {
                            "collection_no": no,
                            "tax_receipt_no": new_receipt_no(now),
                            "entered_at": beijing_iso(now),
                        }
                        for no in accepted
                    ]
                )
            return {"declaration_no": number, "entries": declaration.entries.entries}

    def send_entries(self, number: str, delay_s: float = 0.0) -> None:
        """Start delivering the entries after `delay_s` unscaled seconds, with retries."""
        thread = threading.Thread(
            target=self._deliver,
            args=(number, delay_s * self.bureau.confirmer.time_scale, self._cancel),
            name="fake-tax-entries",
            daemon=True,
        )
        thread.start()

    def _deliver(self, number: str, delay_s: float, cancel: threading.Event) -> None:
        confirmer = self.bureau.confirmer
        if delay_s > 0 and cancel.wait(delay_s):
            return
        body = self.entries_body(number)
        if body is None:
            return
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        url = callback_url(confirmer.callback_url)
        for pause in (0, *RETRY_SCHEDULE_S):
            if pause and cancel.wait(pause * confirmer.time_scale):
                return
            wrong = self.bureau.ledger.fault("wrong_signature")
            headers = signing.signed_headers(
                WRONG_SECRET if wrong else self.bureau.secret, url, raw, now=self.bureau.clock()
            )
            try:
                answer = requests.post(url, data=raw, headers=headers, timeout=confirmer.timeout_s)
                status, error = answer.status_code, None
            except requests.RequestException as exc:
                status, error = None, type(exc).__name__
            if cancel.is_set():
                return
            with self.lock:
                declaration = self.declarations.get(number)
                if declaration is None or declaration.entries is None:
                    return
                declaration.entries.attempts.append(
                    Attempt(beijing_iso(self.bureau.clock()), status, error)
                )
            if status is not None and 200 <= status < 300:
                return

    def reset(self) -> None:
        with self.lock:
            self._cancel.set()
            self._cancel = threading.Event()
            self.declarations.clear()
            self.refusals.clear()


def callback_url(treasury_entries_url: str) -> str:
    base = treasury_entries_url.rstrip("/")
    if base.endswith("/treasury-entries"):
        base = base[: -len("/treasury-entries")]
    return base + "/declaration-entries"


def state() -> Declarations:
    extensions = current_app.extensions
    if "fake_tax_declarations" not in extensions:
        extensions["fake_tax_declarations"] = Declarations(extensions["fake_tax"])
    return extensions["fake_tax_declarations"]


def declaration_problem(body: dict[str, Any]) -> str | None:
    for name in ("declaration_no", "county_code", "collecting_unit", "total_fen", "counts"):
        if body.get(name) in (None, ""):
            return f"missing field: {name}"
    registrations = body.get("registrations")
    if not isinstance(registrations, list) or not registrations:
        return "registrations must be a non-empty list"
    numbers = []
    for registration in registrations:
        if not isinstance(registration, dict):
            return "each registration must be an object"
        missing = [n for n in REGISTRATION_FIELDS if registration.get(n) in (None, "")]
        if missing:
            return f"a registration lacks {', '.join(missing)}"
        amount = registration["amount_fen"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return "amount_fen must be a positive integer (fen)"
        numbers.append(registration["collection_no"])
    if len(set(numbers)) != len(numbers):
        return "a collection_no is declared twice"
    if body["total_fen"] != sum(r["amount_fen"] for r in registrations):
        return "total_fen is not the sum of the registrations' amounts"
    counts = body["counts"]
    for scheme in ("pension", "medical"):
        if counts.get(scheme, 0) != sum(1 for r in registrations if r["scheme"] == scheme):
            return f"counts.{scheme} does not match the registrations"
    return None


def receive():
    """POST /declarations."""
    bureau = current_app.extensions["fake_tax"]
    ledger = bureau.ledger
    slow = ledger.fault("slow")
    if slow:
        time.sleep(slow)
    if ledger.fault("down"):
        return jsonify(error="unavailable", message="the ledger is down for maintenance"), 503
    if ledger.fault("error_500") or ledger.take_failure():
        return jsonify(error="internal_error", message="nothing was recorded"), 500
    raw = request.get_data(cache=False)
    problem = signing.check(
        bureau.secret,
        raw,
        now=bureau.clock(),
        tolerance_s=bureau.tolerance_s,
    )
    if problem:
        return jsonify(error="bad_signature", message=problem), 401
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return jsonify(error="invalid_body", message="the body must be UTF-8 JSON"), 400
    if not isinstance(body, dict):
        return jsonify(error="invalid_body", message="the body must be a JSON object"), 400
    problem = declaration_problem(body)
    if problem:
        return jsonify(error="invalid_body", message=problem), 400
    received = state().receive(body)
    if received is None:
        return jsonify(error="conflict", message="declaration_no known with another body"), 409
    declaration, new = received
    if new and not ledger.fault("no_confirmation"):
        state().send_entries(declaration.declaration_no, delay_s=bureau.confirm_delay_s)
    return jsonify(declaration.answer())


def listing():
    """GET /_control/declarations."""
    with state().lock:
        return jsonify([d.view() for d in state().declarations.values()])


def one(declaration_no: str):
    """GET /_control/declarations/<declaration_no>."""
    with state().lock:
        found = state().declarations.get(declaration_no)
        if found is None:
            return jsonify(error="unknown declaration_no"), 404
        return jsonify(found.view())


def refuse():
    """POST /_control/declarations/refuse."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="a JSON object is required"), 400
    declarations = state()
    with declarations.lock:
        if body.get("clear"):
            declarations.refusals.clear()
        numbers = body.get("collection_nos") or []
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
            return jsonify(error="collection_nos must be a list of strings"), 400
        reason = str(body.get("reason") or DEFAULT_REFUSAL[0])
        message = str(body.get("message") or DEFAULT_REFUSAL[1])
        for number in numbers:
            declarations.refusals[number] = (reason, message)
        return jsonify(refusals={n: list(r) for n, r in declarations.refusals.items()})


def confirm():
    """POST /_control/declarations/confirm."""
    body = request.get_json(silent=True) or {}
    number = body.get("declaration_no") if isinstance(body, dict) else None
    declarations = state()
    if not isinstance(number, str) or number not in declarations.declarations:
        return jsonify(error="unknown declaration_no"), 404
    declarations.send_entries(number)
    return jsonify(status="sending", declaration_no=number), 202


def reset():
    """POST /_control/declarations/reset."""
    state().reset()
    return jsonify(status="reset")
