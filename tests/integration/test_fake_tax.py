"""The fake tax bureau ledger over real HTTP, held to the protocol of design.md section 8.

The backend's ledger client and treasury-entries endpoint are tested against this fake, so it must
refuse what the bureau refuses (bad or stale signatures, malformed messages), treat a repeated
message_id as the same message, and confirm payments with callbacks signed the same way, retried
until acknowledged (waits scaled down 100 times).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import requests
from flask import Flask, request

from backend.config import Config
from fakes.tax.server import create_app as create_fake_tax
from tests.support import running
from tests.support.servers import ServerThread

SECRET = Config().TAX_LEDGER_SECRET
SCALE = 0.01  # the 2 s confirmation delay becomes 0.02 s, the 10 s first retry 0.1 s
CALLBACK_PATH = "/api/tax/v1/treasury-entries"
PROJECT_DIR = Path(__file__).resolve().parents[2]


def signature(secret: str, timestamp: str, body: bytes, path: str = CALLBACK_PATH) -> str:
    """Written out here rather than imported, so a mistake in the signing function shows."""
    text = f"{timestamp}\nPOST\n{path}\n".encode() + body
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


wait_for = partial(running.wait_until, timeout=5.0, every=0.01)


class Receiver:
    """Our backend's treasury-entries endpoint: records every POST, answers 500 to the first
    `failures`."""

    def __init__(self) -> None:
        self.failures = 0
        self.hits: list[dict] = []
        self._lock = threading.Lock()
        app = Flask("backend")

        @app.post(CALLBACK_PATH)
        def receive():
            hit = {
                "at": time.monotonic(),
                "timestamp": request.headers.get("X-Timestamp"),
                "signature": request.headers.get("X-Signature"),
                "raw": request.get_data(),
            }
            with self._lock:
                self.hits.append(hit)
                failing = len(self.hits) <= self.failures
            return ({"error": "busy"}, 500) if failing else ({"status": "ok"}, 200)

        self.server = ServerThread(app)
        self.url = f"{self.server.url}{CALLBACK_PATH}"

    def clear(self) -> None:
        with self._lock:
            self.hits.clear()
            self.failures = 0

    def for_message(self, message_id: str) -> list[dict]:
        with self._lock:
            return [h for h in self.hits if json.loads(h["raw"])["message_id"] == message_id]


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    with receiver.server:
        yield receiver


@pytest.fixture(scope="module")
def fake(receiver):
    app = create_fake_tax(callback_url=receiver.url, time_scale=SCALE, callback_timeout=2)
    with ServerThread(app) as server:
        yield server
    app.extensions["fake_tax"].close()


@pytest.fixture(autouse=True)
def clean(fake, receiver):
    requests.post(f"{fake.url}/_control/reset", timeout=5)
    receiver.clear()
    push(fake.url)  # the payments below name its collection serial
    yield
    requests.post(f"{fake.url}/_control/reset", timeout=5)


COLLECTION_NO = "C2026410702000123"


def registration(**changes) -> dict:
    body = {
        "message_id": f"reg-{uuid.uuid4().hex}",
        "collection_no": COLLECTION_NO,
        "id_number": "410702199001011234",
        "name": "张三",
        "scheme": "medical",
        "period_year": 2026,
        "region_code": "410702100201",
        "payable_fen": 40000,
        "gov_paid_fen": 0,
    }
    body.update(changes)
    return body


def push(url: str, *registrations: dict, secret: str = SECRET) -> requests.Response:
    """One signed POST /registrations (the default registration when none is given)."""
    batch = {
        "batch_id": f"B-{uuid.uuid4().hex[:8]}",
        "registrations": list(registrations) or [registration()],
    }
    return send(url, "/registrations", batch, secret=secret)


def payment(**changes) -> dict:
    body = {
        "message_id": f"pay-{uuid.uuid4().hex}",
        "collection_no": COLLECTION_NO,
        "id_number": "410702199001011234",
        "name": "张三",
        "scheme": "resident_medical",
        "period_year": 2026,
        "amount_fen": 40000,
        "paid_at": "2025-11-29T10:15:00+08:00",
        "channel": "wechat_jsapi",
        "order_no": "O202511290001",
        "transaction_id": "4200001234202511290000000001",
    }
    body.update(changes)
    return body


def send(url: str, path: str, body, *, secret: str = SECRET, timestamp: float | None = None,
         raw: bytes | None = None, headers: dict | None = None) -> requests.Response:  # fmt: skip
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    stamp = str(int(time.time() if timestamp is None else timestamp))
    if headers is None:
        headers = {
            "Content-Type": "application/json",
            "X-Timestamp": stamp,
            "X-Signature": signature(secret, stamp, data, path),
        }
    return requests.post(f"{url}{path}", data=data, headers=headers, timeout=5)


def control(fake, path: str, body=None) -> requests.Response:
    if body is None:
        return requests.get(f"{fake.url}/_control{path}", timeout=5)
    return requests.post(f"{fake.url}/_control{path}", json=body, timeout=5)


def messages(fake) -> list[dict]:
    return control(fake, "/messages").json()


# ledger API


def test_health(fake):
    assert control(fake, "/health").json() == {"status": "ok"}


def test_signed_payment_is_accepted_with_a_ledger_ref(fake):
    body = payment()
    answer = send(fake.url, "/payments", body)
    assert answer.status_code == 200, answer.text
    ledger_ref = answer.json()["ledger_ref"]
    assert ledger_ref.startswith("L")
    assert list(answer.json()) == ["ledger_ref"]
    [message] = messages(fake)
    assert message["message_id"] == body["message_id"]
    assert message["ledger_ref"] == ledger_ref
    assert message["kind"] == "payment"
    assert message["body"] == body
    assert message["deliveries"] == 1
    assert control(fake, f"/messages/{body['message_id']}").json()["ledger_ref"] == ledger_ref


def test_repeated_message_id_is_the_same_message(fake, receiver):
    body = payment()
    first = send(fake.url, "/payments", body).json()["ledger_ref"]
    wait_for(lambda: receiver.for_message(body["message_id"]))
    second = send(fake.url, "/payments", body).json()["ledger_ref"]
    third = send(fake.url, "/payments", body).json()["ledger_ref"]
    assert first == second == third
    [message] = messages(fake)
    assert message["deliveries"] == 3
    time.sleep(0.2)  # ten confirmation delays: a repeat must not be confirmed again
    assert len(receiver.for_message(body["message_id"])) == 1


def test_different_messages_get_different_ledger_refs(fake):
    refs = {send(fake.url, "/payments", payment()).json()["ledger_ref"] for _ in range(3)}
    assert len(refs) == 3
    assert len(messages(fake)) == 3


@pytest.mark.parametrize(
    "how",
    [
        "wrong_secret",
        "tampered_body",
        "no_headers",
        "no_signature",
        "uppercase_hex",
        "bad_stamp",
        "other_path",
    ],
)
def test_bad_signature_is_refused(fake, how):
    body = payment()
    data = json.dumps(body).encode()
    stamp = str(int(time.time()))
    good = signature(SECRET, stamp, data, "/payments")
    headers = {"X-Timestamp": stamp, "X-Signature": good}
    if how == "wrong_secret":
        headers["X-Signature"] = signature("another-secret", stamp, data, "/payments")
    elif how == "other_path":  # a genuine message for another endpoint
        headers["X-Signature"] = signature(SECRET, stamp, data, "/reversals")
    elif how == "tampered_body":
        data = json.dumps({**body, "amount_fen": 1}).encode()
    elif how == "no_headers":
        headers = {}
    elif how == "no_signature":
        del headers["X-Signature"]
    elif how == "uppercase_hex":
        headers["X-Signature"] = good.upper()
    elif how == "bad_stamp":
        headers["X-Timestamp"] = f"{stamp}.0"
    answer = send(fake.url, "/payments", None, raw=data, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "bad_signature"
    assert messages(fake) == []


@pytest.mark.parametrize("offset, status", [(-301, 401), (301, 401), (-250, 200), (250, 200)])
def test_timestamp_must_be_within_300_seconds(fake, offset, status):
    answer = send(fake.url, "/payments", payment(), timestamp=time.time() + offset)
    assert answer.status_code == status
    assert len(messages(fake)) == (1 if status == 200 else 0)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe{}",
        b"[1, 2]",
        json.dumps({k: v for k, v in payment().items() if k != "transaction_id"}).encode(),
        json.dumps(payment(amount_fen=0)).encode(),
        json.dumps(payment(amount_fen=-100)).encode(),
        json.dumps(payment(amount_fen="40000")).encode(),
        json.dumps(payment(amount_fen=400.5)).encode(),
        json.dumps(payment(amount_fen=True)).encode(),
        json.dumps(payment(message_id="")).encode(),
        json.dumps(payment(name=None)).encode(),
    ],
    ids=[
        "text",
        "not_utf8",
        "array",
        "missing_field",
        "zero",
        "negative",
        "string_amount",
        "fraction",
        "bool_amount",
        "empty_message_id",
        "null_name",
    ],
)
def test_malformed_payment_is_refused(fake, raw):
    answer = send(fake.url, "/payments", None, raw=raw)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_body"
    assert messages(fake) == []


def test_reversal_is_accepted_once_and_not_confirmed(fake, receiver):
    original = payment()
    ledger_ref = send(fake.url, "/payments", original).json()["ledger_ref"]
    wait_for(lambda: receiver.for_message(original["message_id"]))
    reversal = {
        "message_id": f"rev-{uuid.uuid4().hex}",
        "ledger_ref": ledger_ref,
        "amount_fen": 40000,
        "reason": "refund",
    }
    first = send(fake.url, "/reversals", reversal)
    assert first.status_code == 200, first.text
    again = send(fake.url, "/reversals", reversal)
    assert again.json()["ledger_ref"] == first.json()["ledger_ref"] != ledger_ref
    view = control(fake, f"/messages/{reversal['message_id']}").json()
    assert view["kind"] == "reversal"
    assert view["deliveries"] == 2
    assert view["confirmation"] is None
    assert send(fake.url, "/reversals", {"reason": "x"}).status_code == 400
    unknown = send(fake.url, "/reversals", {**reversal, "message_id": "rev-x", "ledger_ref": "L0"})
    assert "does not name a payment" in unknown.json()["message"]
    too_much = send(
        fake.url, "/reversals", {**reversal, "message_id": "rev-y", "amount_fen": 10**9}
    )
    assert "exceeds" in too_much.json()["message"]
    assert send(fake.url, "/reversals", reversal, secret="wrong").status_code == 401
    time.sleep(0.1)
    assert receiver.for_message(reversal["message_id"]) == []


# registrations pushed


def test_a_batch_of_registrations_is_answered_one_by_one(fake):
    good, bad = registration(collection_no="C1"), registration(collection_no="C2", payable_fen=-1)
    answer = push(fake.url, good, bad, registration(collection_no="C3", region_code="4107"))
    assert answer.status_code == 200, answer.text
    first, refused, short = answer.json()["results"]
    assert first["message_id"] == good["message_id"] and first["status"] == "accepted"
    assert first["ledger_ref"].startswith("L")
    assert (refused["status"], refused["code"]) == ("refused", "invalid_registration")
    assert refused["collection_no"] == "C2" and "payable_fen" in refused["reason"]
    assert "region_code" in short["reason"]
    # The same push again is the same registration: the same ledger_ref, one more delivery.
    again = push(fake.url, good).json()["results"][0]
    assert again["ledger_ref"] == first["ledger_ref"]
    held = control(fake, "/registrations").json()
    assert held["batches"] == 3  # the fixture's, then these two
    by_no = {h["collection_no"]: h for h in held["registrations"]}
    assert set(by_no) == {COLLECTION_NO, "C1"}
    assert (by_no["C1"]["deliveries"], by_no["C1"]["body"]) == (2, good)
    # A new push of a serial it holds is the registration as it is now.
    changed = registration(collection_no="C1", payable_fen=15000)
    assert push(fake.url, changed).json()["results"][0]["ledger_ref"] != first["ledger_ref"]
    view = {h["collection_no"]: h for h in control(fake, "/registrations").json()["registrations"]}
    assert view["C1"]["body"]["payable_fen"] == 15000 and view["C1"]["pushes"] == 2


@pytest.mark.parametrize(
    "batch, status",
    [
        ({"registrations": [registration()]}, 400),  # no batch_id
        ({"batch_id": "B1", "registrations": []}, 400),
        ({"batch_id": "B1", "registrations": "all"}, 400),
        ({"batch_id": "B1", "registrations": [registration()] * 1001}, 400),
    ],
)
def test_a_malformed_batch_is_refused_whole(fake, batch, status):
    control(fake, "/reset", {})
    answer = send(fake.url, "/registrations", batch)
    assert answer.status_code == status and answer.json()["error"] == "invalid_body"
    assert control(fake, "/registrations").json() == {"batches": 0, "registrations": []}


def test_a_batch_needs_the_signature_and_the_bureau_up(fake):
    control(fake, "/reset", {})
    assert push(fake.url, secret="wrong").status_code == 401
    control(fake, "/faults", {"down": True})
    assert push(fake.url).status_code == 503
    control(fake, "/faults", {"down": False, "fail_next": 1})
    assert push(fake.url).status_code == 500
    assert control(fake, "/registrations").json()["registrations"] == []
    assert push(fake.url).status_code == 200


def test_a_payment_of_a_serial_never_pushed_is_refused(fake, receiver):
    unknown = payment(collection_no="C-never-pushed")
    answer = send(fake.url, "/payments", unknown)
    assert answer.status_code == 409
    assert answer.json()["code"] == "unknown_collection_no"
    assert "C-never-pushed" in answer.json()["message"]
    assert messages(fake) == []
    # Forgotten (the fault a test or a demo provokes): refused the same way, until pushed again.
    forgotten = requests.delete(f"{fake.url}/_control/registrations/{COLLECTION_NO}", timeout=5)
    assert forgotten.json() == {"forgotten": COLLECTION_NO}
    assert requests.delete(forgotten.url, timeout=5).status_code == 404
    body = payment()
    assert send(fake.url, "/payments", body).status_code == 409
    push(fake.url)
    assert send(fake.url, "/payments", body).status_code == 200
    # A payment the bureau took stays the same message, whatever it forgets later.
    requests.delete(forgotten.url, timeout=5)
    assert send(fake.url, "/payments", body).status_code == 200


def test_history_loaded_through_control_counts_as_held(fake):
    earlier = {**registration(collection_no="C9"), "ledger_ref": "L20190826AAAA"}
    loaded = requests.post(
        f"{fake.url}/_control/registrations", json={"registrations": [earlier]}, timeout=5
    )
    assert loaded.json() == {"added": 1, "known": 0}
    again = requests.post(
        f"{fake.url}/_control/registrations", json={"registrations": [earlier]}, timeout=5
    )
    assert again.json() == {"added": 0, "known": 1}
    held = {h["collection_no"]: h for h in control(fake, "/registrations").json()["registrations"]}
    assert held["C9"]["ledger_ref"] == "L20190826AAAA" and held["C9"]["deliveries"] == 0
    assert send(fake.url, "/payments", payment(collection_no="C9")).status_code == 200
    bad = requests.post(
        f"{fake.url}/_control/registrations", json={"registrations": [{"x": 1}]}, timeout=5
    )
    assert bad.status_code == 400


# confirmations


def test_confirmation_callback_is_signed_and_complete(fake, receiver):
    body = payment()
    ledger_ref = send(fake.url, "/payments", body).json()["ledger_ref"]
    [hit] = wait_for(lambda: receiver.for_message(body["message_id"]))
    assert hit["signature"] == signature(SECRET, hit["timestamp"], hit["raw"])
    assert abs(int(hit["timestamp"]) - time.time()) < 5
    confirmation = json.loads(hit["raw"].decode("utf-8"))
    assert set(confirmation) == {"ledger_ref", "message_id", "tax_receipt_no", "entered_at"}
    assert confirmation["ledger_ref"] == ledger_ref
    assert confirmation["message_id"] == body["message_id"]
    receipt = confirmation["tax_receipt_no"]
    assert isinstance(receipt, str) and len(receipt) == 20 and receipt.isdigit()
    entered_at = datetime.fromisoformat(confirmation["entered_at"])
    assert entered_at.utcoffset() == timedelta(hours=8)
    assert abs(entered_at.timestamp() - time.time()) < 5

    view = wait_for(
        lambda: (
            (v := control(fake, f"/messages/{body['message_id']}").json())["confirmation"][
                "attempts"
            ]
            and v
        )
    )
    assert view["confirmation"]["tax_receipt_no"] == receipt
    assert view["confirmation"]["acknowledged"] is True
    assert [a["status"] for a in view["confirmation"]["attempts"]] == [200]


def test_confirmation_is_retried_until_acknowledged(fake, receiver):
    receiver.failures = 2
    body = payment()
    send(fake.url, "/payments", body)
    hits = wait_for(lambda: (h := receiver.for_message(body["message_id"])) and len(h) >= 3 and h)
    assert len({h["raw"] for h in hits}) == 1  # the same confirmation each time
    for hit in hits:
        assert hit["signature"] == signature(SECRET, hit["timestamp"], hit["raw"])
    assert hits[1]["at"] - hits[0]["at"] >= 10 * SCALE * 0.9  # backs off
    assert hits[2]["at"] - hits[1]["at"] >= 30 * SCALE * 0.9
    attempts = wait_for(
        lambda: (
            len(a := control(fake, f"/messages/{body['message_id']}").json()["confirmation"]["attempts"]) == 3
            and a
        )
    )  # fmt: skip
    assert [a["status"] for a in attempts] == [500, 500, 200]
    time.sleep(0.3)
    assert len(receiver.for_message(body["message_id"])) == 3  # stops once acknowledged


def test_control_confirm_sends_again(fake, receiver):
    body = payment()
    send(fake.url, "/payments", body)
    wait_for(lambda: receiver.for_message(body["message_id"]))
    answer = control(fake, "/confirm", {"message_id": body["message_id"]})
    assert answer.status_code == 202
    hits = wait_for(lambda: (h := receiver.for_message(body["message_id"])) and len(h) == 2 and h)
    assert hits[0]["raw"] == hits[1]["raw"]
    assert control(fake, "/confirm", {"message_id": "nope"}).status_code == 404
    ledger_ref = send(fake.url, "/payments", body).json()["ledger_ref"]
    reversal = {"message_id": f"rev-{uuid.uuid4().hex}", "ledger_ref": ledger_ref, "amount_fen": 1}
    assert send(fake.url, "/reversals", reversal).status_code == 200
    assert control(fake, "/confirm", {"message_id": reversal["message_id"]}).status_code == 409


# faults


def test_down_answers_503_and_records_nothing(fake):
    control(fake, "/faults", {"down": True})
    body = payment()
    assert send(fake.url, "/payments", body).status_code == 503
    assert send(fake.url, "/reversals", {"message_id": "r1"}).status_code == 503
    assert control(fake, "/health").status_code == 200  # control stays up
    assert messages(fake) == []
    control(fake, "/faults", {"down": False})
    assert send(fake.url, "/payments", body).status_code == 200


def test_error_500_accepts_nothing(fake, receiver):
    control(fake, "/faults", {"error_500": True})
    body = payment()
    answer = send(fake.url, "/payments", body)
    assert answer.status_code == 500
    assert answer.json()["error"] == "internal_error"
    assert messages(fake) == []
    time.sleep(0.1)
    assert receiver.for_message(body["message_id"]) == []


def test_fail_next_fails_that_many_calls(fake):
    assert control(fake, "/faults", {"fail_next": 2}).json()["faults"]["fail_next"] == 2
    body = payment()
    statuses = [send(fake.url, "/payments", body).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert control(fake, "/faults").json()["faults"]["fail_next"] == 0
    [message] = messages(fake)
    assert message["deliveries"] == 1


def test_slow_delays_the_answer(fake):
    control(fake, "/faults", {"slow": 0.3})
    started = time.monotonic()
    answer = send(fake.url, "/payments", payment())
    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.3
    control(fake, "/faults", {"slow": 0})
    started = time.monotonic()
    send(fake.url, "/payments", payment())
    assert time.monotonic() - started < 0.3


def test_wrong_signature_on_callbacks(fake, receiver):
    control(fake, "/faults", {"wrong_signature": True})
    body = payment()
    send(fake.url, "/payments", body)
    [hit] = wait_for(lambda: receiver.for_message(body["message_id"]))
    assert hit["timestamp"] and hit["signature"]
    assert hit["signature"] != signature(SECRET, hit["timestamp"], hit["raw"])


def test_duplicate_confirmation_sends_two(fake, receiver):
    control(fake, "/faults", {"duplicate_confirmation": True})
    body = payment()
    send(fake.url, "/payments", body)
    hits = wait_for(lambda: (h := receiver.for_message(body["message_id"])) and len(h) == 2 and h)
    assert hits[0]["raw"] == hits[1]["raw"]
    for hit in hits:
        assert hit["signature"] == signature(SECRET, hit["timestamp"], hit["raw"])
    time.sleep(0.2)
    assert len(receiver.for_message(body["message_id"])) == 2


def test_no_confirmation_holds_callbacks_until_asked(fake, receiver):
    control(fake, "/faults", {"no_confirmation": True})
    body = payment()
    send(fake.url, "/payments", body)
    time.sleep(0.2)
    assert receiver.for_message(body["message_id"]) == []
    control(fake, "/confirm", {"message_id": body["message_id"]})
    wait_for(lambda: receiver.for_message(body["message_id"]))


@pytest.mark.parametrize(
    "switches", [{"explode": True}, {"slow": -1}, {"fail_next": 1.5}, {"slow": "x"}, [1]]
)
def test_bad_fault_switches_are_refused(fake, switches):
    assert control(fake, "/faults", switches).status_code == 400


def test_reset_forgets_messages_and_faults(fake):
    body = payment()
    first = send(fake.url, "/payments", body).json()["ledger_ref"]
    control(fake, "/faults", {"down": True, "fail_next": 3})
    assert control(fake, "/reset", {}).json() == {"status": "reset"}
    assert messages(fake) == []
    assert control(fake, "/registrations").json() == {"batches": 0, "registrations": []}
    assert control(fake, "/faults").json() == {"faults": {}}
    push(fake.url)
    second = send(fake.url, "/payments", body)
    assert second.status_code == 200
    assert second.json()["ledger_ref"] != first


def test_reset_drops_pending_confirmations(receiver):
    app = create_fake_tax(callback_url=receiver.url, time_scale=SCALE, confirm_delay=30)
    try:
        with ServerThread(app) as server:
            body = payment()
            push(server.url)
            send(server.url, "/payments", body)
            requests.post(f"{server.url}/_control/reset", timeout=5)
            time.sleep(0.5)  # past the 0.3 s delay
            assert receiver.for_message(body["message_id"]) == []
    finally:
        app.extensions["fake_tax"].close()


def test_reset_stops_confirmations_being_retried(fake, receiver):
    receiver.failures = 100
    body = payment()
    send(fake.url, "/payments", body)
    wait_for(lambda: receiver.for_message(body["message_id"]))
    control(fake, "/reset", {})
    time.sleep(0.5)  # the next retries were due after 0.1 s and 0.4 s
    assert len(receiver.for_message(body["message_id"])) == 1


# state file and command line


def test_state_file_keeps_messages_across_restarts(tmp_path, receiver):
    state = tmp_path / "tax.json"
    body, pushed = payment(), registration()
    refs = []
    for _ in range(2):
        app = create_fake_tax(callback_url=receiver.url, time_scale=SCALE, state_file=str(state))
        try:
            with ServerThread(app) as server:
                refs.append(push(server.url, pushed).json()["results"][0]["ledger_ref"])
                refs.append(send(server.url, "/payments", body).json()["ledger_ref"])
                wait_for(lambda: receiver.for_message(body["message_id"]))
        finally:
            app.extensions["fake_tax"].close()
    assert refs[0] == refs[2] and refs[1] == refs[3]
    saved = json.loads(state.read_text(encoding="utf-8"))["messages"]
    assert [m["deliveries"] for m in saved] == [2]
    beside = tmp_path / "tax-registrations.json"
    held = json.loads(beside.read_text(encoding="utf-8"))["registrations"]
    assert [(h["collection_no"], h["deliveries"]) for h in held] == [(COLLECTION_NO, 2)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_command_line_runs_a_server(receiver):
    port = free_port()
    env = {**os.environ, "FAKE_TAX_PORT": str(port), "TAX_LEDGER_SECRET": "cli-secret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fakes.tax", "--callback-url", receiver.url, "--time-scale", "0.01"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return requests.get(f"{url}/_control/health", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_for(up, timeout=15)
        body = payment()
        assert send(url, "/payments", body).status_code == 401  # not the default secret
        assert push(url, secret="cli-secret").status_code == 200
        assert send(url, "/payments", body, secret="cli-secret").status_code == 200
        [hit] = wait_for(lambda: receiver.for_message(body["message_id"]))
        assert hit["signature"] == signature("cli-secret", hit["timestamp"], hit["raw"])
    finally:
        process.terminate()
        process.wait(timeout=10)
