"""The tax ledger: outbox written with the payment, delivered by flask worker to the fake bureau
over real HTTP, confirmed back through the treasury-entries endpoint."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from urllib.parse import urlsplit

import openpyxl
import pytest
from sqlalchemy import func, select

from backend import create_app
from backend.ledger.outbox import claim_due
from backend.ledger.signing import sign
from backend.models import AuditEntry, LedgerAttempt, LedgerMessage, Registration
from backend.values.beijing import beijing_today
from fakes.tax.server import create_app as create_fake_bureau
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import fresh, run_worker, wait_until
from tests.support.servers import ServerThread

CONFIRM = "/api/tax/v1/treasury-entries"


@pytest.fixture
def ledger_app(app_config, with_regions):
    # Retries without waiting, three of them, so back-off and dead letters show in one test.
    return create_app({**app_config, "LEDGER_RETRY_SCHEDULE": (0, 0, 0)})


@pytest.fixture
def server(ledger_app):
    with serve(ledger_app) as running:
        yield running


@pytest.fixture
def bureau(server, ledger_app, clock):
    fake = create_fake_bureau(
        callback_url=server.url + CONFIRM,
        time_scale=0.01,
        confirm_delay=1.0,
        clock=clock.timestamp,
    )
    with ServerThread(fake) as running:
        ledger_app.config["APP_CONFIG"].TAX_LEDGER_URL = running.url
        yield running
    fake.extensions["fake_tax"].close()


@pytest.fixture
def session(ledger_app):
    with ledger_app.extensions["db_sessions"]() as session:
        yield session


def paid_household(session, http, server, wx, ledger_app, people=2):
    """A household registered (its registrations pushed to the bureau), then paid."""
    registrations = []
    for n in range(people):
        _, regs = add_person(session, birth=age_on_2019(30 + n), seq=f"{n + 1:03d}")
        registrations += regs
    pushed = len(registrations)
    assert f"ledger: delivered {pushed} ({pushed} registrations in 1 batch)" in run_worker(
        ledger_app
    )
    auth = sign_in(http, server.url, wx, "ledger-payer")
    created = order(http, server.url, auth, [r.ref for r in registrations]).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, server.url, auth, created["order_no"]).json()["status"] == "paid"
    )
    return auth, created, registrations


def messages(session):
    """The payment messages (the registrations' pushes left out)."""
    return fresh(
        session,
        lambda s: {
            m.message_id: (m.status, m.attempts, m.ledger_ref, m.tax_receipt_no)
            for m in s.scalars(select(LedgerMessage).where(LedgerMessage.kind == "payment"))
        },
    )


def test_each_paid_registration_reaches_the_bureau_once_and_comes_back_entered(
    session, http, server, bureau, fake_wechat, ledger_app, staff_token, clock
):
    auth, created, registrations = paid_household(session, http, server, fake_wechat, ledger_app)
    assert len(messages(session)) == 4  # written with the payment, one per registration

    assert "ledger: delivered 4" in run_worker(ledger_app)
    accepted = http.get(f"{bureau.url}/_control/messages").json()
    assert len(accepted) == 4
    body = accepted[0]["body"]
    assert set(body) >= {"message_id", "collection_no", "id_number", "name", "amount_fen"}
    assert body["order_no"] == created["order_no"]

    # The bureau confirms each entry into the treasury; the resident sees the receipt numbers.
    def entered():
        items = get_order(http, server.url, auth, created["order_no"]).json()["items"]
        return all(i["ledger_state"] == "treasury_entered" for i in items) and items

    items = wait_until(entered)
    assert all(len(i["tax_receipt_no"]) >= 10 for i in items)
    statuses = fresh(session, lambda s: [s.get(Registration, r.id).status for r in registrations])
    assert statuses == ["treasury_entered"] * 4

    assert "ledger: delivered 0" in run_worker(ledger_app)  # nothing left, nothing resent
    assert all(m["deliveries"] == 1 for m in http.get(f"{bureau.url}/_control/messages").json())

    # The agency's booking file for the day: the two medical entries, with a total line.
    agency = {"Authorization": f"Bearer {staff_token('agency', '410721')}"}
    today = beijing_today(clock.now()).isoformat()
    url = f"{server.url}/api/staff/v1/ledger/treasury-entries"
    query = {"date": today, "county": "410721", "scheme": "medical"}
    csv_file = http.get(url, params=query, headers=agency)
    assert csv_file.status_code == 200
    lines = csv_file.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("征集流水号,电子税票号码")
    assert len(lines) == 1 + 2 + 1
    total = lines[-1].split(",")
    assert total[:2] == ["合计", "2 笔"] and total[8:10] == ["50000", "500.00"]
    assert len(total) == len(lines[0].split(","))  # the total line keeps the columns
    xlsx = http.get(url, params={**query, "format": "xlsx"}, headers=agency)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert [row[0] for row in sheet.iter_rows(values_only=True)][1:3] == [
        line.split(",")[0] for line in lines[1:3]
    ]
    elsewhere = {"Authorization": f"Bearer {staff_token('agency', '410724', 'far-agency')}"}
    assert http.get(url, params=query, headers=elsewhere).status_code == 404


def test_a_bureau_that_is_down_gets_everything_once_it_is_back(
    session, http, server, bureau, fake_wechat, ledger_app
):
    paid_household(session, http, server, fake_wechat, ledger_app, people=1)
    http.post(f"{bureau.url}/_control/faults", json={"down": True})
    assert "failed 2" in run_worker(ledger_app)
    assert "failed 2" in run_worker(ledger_app)
    http.post(f"{bureau.url}/_control/faults", json={"down": False})
    assert "delivered 2" in run_worker(ledger_app)

    assert {status for status, *_ in messages(session).values()} == {"delivered"}
    attempts = fresh(
        session,
        lambda s: s.scalars(
            select(LedgerAttempt.outcome)
            .join(LedgerMessage, LedgerMessage.id == LedgerAttempt.message_id)
            .where(LedgerMessage.kind == "payment")
            .order_by(LedgerAttempt.id)
        ).all(),
    )
    assert attempts.count("failed") == 4 and attempts.count("delivered") == 2


def test_after_the_last_attempt_a_message_is_dead_until_an_operator_resends_it(
    session, http, server, bureau, fake_wechat, ledger_app, staff_token
):
    paid_household(session, http, server, fake_wechat, ledger_app, people=1)
    http.post(f"{bureau.url}/_control/faults", json={"error_500": True})
    for _ in range(3):
        run_worker(ledger_app)
    assert "dead 2" in run_worker(ledger_app)
    assert {status for status, *_ in messages(session).values()} == {"dead"}
    assert "delivered 0" in run_worker(ledger_app)  # dead letters wait for an operator

    admin = {"Authorization": f"Bearer {staff_token('admin')}"}
    dead = http.get(f"{server.url}/api/staff/v1/ledger/messages?status=dead", headers=admin)
    assert dead.status_code == 200
    assert len(dead.json()) == 2
    # Another county's admin sees none of this county's messages, and resends none of them.
    elsewhere = {"Authorization": f"Bearer {staff_token('admin', '410724')}"}
    url = f"{server.url}/api/staff/v1/ledger"
    assert http.get(f"{url}/messages?status=dead", headers=elsewhere).json() == []
    assert http.get(f"{url}/summary", headers=elsewhere).json() == {
        "pending": 0,
        "delivered": 0,
        "dead": 0,
    }
    assert http.post(f"{url}/resend", json={}, headers=elsewhere).json() == {"resent": 0}
    log = dead.json()[0]["attempt_log"]
    assert [a["outcome"] for a in log] == ["failed", "failed", "failed", "dead"]
    assert all(a["http_status"] == 500 for a in log)
    viewer = {"Authorization": f"Bearer {staff_token('viewer', name='just-looking')}"}
    assert http.get(f"{server.url}/api/staff/v1/ledger/summary", headers=viewer).status_code == 403

    http.post(f"{bureau.url}/_control/faults", json={"error_500": False})
    resent = http.post(f"{server.url}/api/staff/v1/ledger/resend", json={}, headers=admin)
    assert resent.json() == {"resent": 2}
    assert "delivered 2" in run_worker(ledger_app)
    summary = http.get(f"{server.url}/api/staff/v1/ledger/summary", headers=admin).json()
    assert summary == {"pending": 0, "delivered": 4, "dead": 0}  # two pushes, two payments
    status = ledger_app.test_cli_runner().invoke(args=["ledger", "status"])
    assert "delivered  4" in status.output


def test_a_message_whose_worker_died_is_sent_again_under_the_same_id(
    session, http, server, bureau, fake_wechat, ledger_app, clock
):
    paid_household(session, http, server, fake_wechat, ledger_app, people=1)
    # A worker claims the messages and dies before sending: nothing is sent until the lease ends.
    with ledger_app.extensions["db_sessions"]() as claimer, claimer.begin():
        claimed = claim_due(claimer, now=clock.now(), limit=10)
    assert len(claimed) == 2
    assert "delivered 0" in run_worker(ledger_app)
    clock.advance(timedelta(seconds=ledger_app.config["LEDGER_LEASE_SECONDS"]))
    assert "delivered 2" in run_worker(ledger_app)
    assert len(http.get(f"{bureau.url}/_control/messages").json()) == 2


# -- confirmations we refuse ------------------------------------------------------------------


def signed_post(http, url, body: dict, *, timestamp, secret=None):
    raw = json.dumps(body).encode()
    stamp = str(timestamp)
    secret = secret or create_app().config["APP_CONFIG"].TAX_LEDGER_SECRET
    headers = {
        "Content-Type": "application/json",
        "X-Timestamp": stamp,
        "X-Signature": sign(secret, "POST", urlsplit(url).path, stamp, raw),
    }
    return http.post(url, data=raw, headers=headers)


def test_forged_stale_unknown_and_conflicting_confirmations_change_nothing(
    session, http, server, bureau, fake_wechat, ledger_app, clock
):
    http.post(f"{bureau.url}/_control/faults", json={"no_confirmation": True})
    paid_household(session, http, server, fake_wechat, ledger_app, people=1)
    run_worker(ledger_app)
    message_id, (_, _, ledger_ref, _) = next(iter(messages(session).items()))
    genuine = {
        "ledger_ref": ledger_ref,
        "message_id": message_id,
        "tax_receipt_no": "33041900000000000001",
        "entered_at": "2019-11-06T10:00:00+08:00",
    }
    url = server.url + CONFIRM
    now = int(clock.now().timestamp())
    assert (
        signed_post(http, url, genuine, timestamp=now, secret="not-the-secret").status_code == 401
    )
    assert signed_post(http, url, genuine, timestamp=now - 3600).status_code == 401
    unknown = signed_post(http, url, {**genuine, "message_id": "pay-999999"}, timestamp=now)
    assert unknown.status_code == 422
    other_ref = signed_post(http, url, {**genuine, "ledger_ref": "L-someone-else"}, timestamp=now)
    assert other_ref.status_code == 422
    assert {m[3] for m in messages(session).values()} == {None}  # nothing recorded yet

    assert signed_post(http, url, genuine, timestamp=now).json() == {"status": "recorded"}
    assert signed_post(http, url, genuine, timestamp=now).json() == {"status": "already_recorded"}
    second = signed_post(
        http, url, {**genuine, "tax_receipt_no": "33041900000000000002"}, timestamp=now
    )
    assert second.status_code == 409
    assert messages(session)[message_id][3] == "33041900000000000001"
    entered = fresh(
        session,
        lambda s: s.scalar(
            select(func.count())
            .select_from(Registration)
            .where(Registration.status == "treasury_entered")
        ),
    )
    assert entered == 1


def test_a_bureau_signing_with_the_wrong_secret_is_not_believed(
    session, http, server, bureau, fake_wechat, ledger_app
):
    http.post(f"{bureau.url}/_control/faults", json={"wrong_signature": True})
    paid_household(session, http, server, fake_wechat, ledger_app, people=1)
    run_worker(ledger_app)
    message_id = next(iter(messages(session)))

    def refused():
        confirmation = http.get(f"{bureau.url}/_control/messages/{message_id}").json()[
            "confirmation"
        ]
        return confirmation and confirmation["attempts"] and confirmation["attempts"][0]

    assert wait_until(refused)["status"] == 401
    assert {m[3] for m in messages(session).values()} == {None}  # no receipt recorded


def test_a_confirmation_sent_twice_is_recorded_once(
    session, http, server, bureau, fake_wechat, ledger_app
):
    http.post(f"{bureau.url}/_control/faults", json={"duplicate_confirmation": True})
    paid_household(session, http, server, fake_wechat, ledger_app, people=1)
    run_worker(ledger_app)

    def both_answered():
        found = http.get(f"{bureau.url}/_control/messages").json()
        attempts = [a for m in found for a in (m["confirmation"] or {}).get("attempts", [])]
        return len(attempts) >= 4 and attempts

    assert {a["status"] for a in wait_until(both_answered)} == {200}
    entries = fresh(
        session,
        lambda s: s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "ledger.treasury_entered")
        ),
    )
    assert entries == 2  # two registrations, each entered once


def test_a_malformed_or_misdirected_signature_is_refused(http, server, clock):
    """A non-ASCII signature is 401 (not a crash); a genuine treasury entry replayed to the
    declaration-entries endpoint does not verify there (method and path are signed)."""
    now = int(clock.now().timestamp())
    entry = {"ledger_ref": "L1", "message_id": "pay-1", "tax_receipt_no": "1", "entered_at": "x"}
    odd = {"Content-Type": "application/json", "X-Timestamp": str(now), "X-Signature": "é" * 64}
    answer = http.post(server.url + CONFIRM, data=json.dumps(entry).encode(), headers=odd)
    assert answer.status_code == 401

    sent = signed_post(http, server.url + CONFIRM, entry, timestamp=now)
    assert sent.status_code == 422  # the signature verified; the entry is unknown
    replayed = http.post(
        server.url + "/api/tax/v1/declaration-entries",
        data=sent.request.body,
        headers={
            k: sent.request.headers[k] for k in ("Content-Type", "X-Timestamp", "X-Signature")
        },
    )
    assert replayed.status_code == 401
    assert "signature" in replayed.json()["message"]
