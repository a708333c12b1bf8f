"""Registrations pushed to the tax bureau: an agency's import reaches the fake bureau in batches,
each registration once; a payment waits for its registration's push; a payment the bureau cannot
place (it does not know the collection serial) is shown to operators, kept, and goes through once
the registration is pushed again. All over real HTTP, with the worker's own ledger job."""

from __future__ import annotations

import csv
import io
import math
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend import create_app
from backend.infra.web import new_unit_of_work
from backend.jobs.catalogue import jobs_for
from backend.jobs.runner import run_round
from backend.ledger.outbox import PUSH_BATCH, claim_due
from backend.models import AuditEntry, LedgerAttempt, LedgerMessage, Registration
from fakes.tax.server import create_app as create_fake_bureau
from tests.conftest import serve
from tests.support.builders import add_person
from tests.support.files import REGISTRATION_HEADER, many_registrations
from tests.support.regions import VILLAGE, VILLAGE_2
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import fresh, wait_until
from tests.support.servers import ServerThread

CONFIRM = "/api/tax/v1/treasury-entries"
FIRST_RETRY = 15  # seconds
MEDICAL = (("medical", 2020),)


@pytest.fixture
def push_app(app_config, with_regions):
    return create_app({**app_config, "LEDGER_RETRY_SCHEDULE": (FIRST_RETRY, 60, 300)})


@pytest.fixture
def server(push_app):
    with serve(push_app) as running:
        yield running


@pytest.fixture
def bureau(server, push_app, clock):
    fake = create_fake_bureau(
        callback_url=server.url + CONFIRM, time_scale=0.01, confirm_delay=1.0, clock=clock.timestamp
    )
    with ServerThread(fake) as running:
        push_app.config["APP_CONFIG"].TAX_LEDGER_URL = running.url
        yield running
    fake.extensions["fake_tax"].close()


@pytest.fixture
def session(push_app):
    with push_app.extensions["db_sessions"]() as session:
        yield session


def deliver(app) -> str:
    """The worker's ledger job as `flask worker` runs it: a round, then another at once while a
    claim came back full. Every round's line, joined."""
    [ledger] = [job for job in jobs_for(app) if job.name == "ledger"]
    lines = []
    while True:
        report = run_round([ledger], lambda: new_unit_of_work(app), tell_all=True)
        assert not report.failed, report.lines
        lines += report.lines
        if not report.more_waiting:
            return "\n".join(lines)


def held(http, bureau) -> dict[str, dict]:
    answer = http.get(f"{bureau.url}/_control/registrations").json()
    return {
        "batches": answer["batches"],
        **{h["collection_no"]: h for h in answer["registrations"]},
    }


def payments_at_the_bureau(http, bureau) -> list[dict]:
    return [m for m in http.get(f"{bureau.url}/_control/messages").json() if m["kind"] == "payment"]


def paid(http, server, wx, registration) -> str:
    auth = sign_in(http, server.url, wx, "push-payer")
    order_no = order(http, server.url, auth, [registration.ref]).json()["order_no"]
    pay(http, wx, order_no)
    wait_until(lambda: get_order(http, server.url, auth, order_no).json()["status"] == "paid")
    return order_no


def payment_message(session) -> LedgerMessage:
    return fresh(
        session,
        lambda s: s.scalars(select(LedgerMessage).where(LedgerMessage.kind == "payment")).one(),
    )


def test_an_import_of_ten_thousand_reaches_the_bureau_in_batches_each_registration_once(
    http, server, bureau, push_app, staff_token, session
):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGISTRATION_HEADER)
    rows = list(many_registrations(10_000))
    writer.writerows(rows)
    agency = {"Authorization": f"Bearer {staff_token('agency', '410721')}"}
    imported = http.post(
        f"{server.url}/api/staff/v1/imports/registrations",
        headers=agency,
        files={"file": ("day1.csv", io.BytesIO(out.getvalue().encode()))},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["counts"]["inserted"] == 10_000

    summary = deliver(push_app)
    batches = math.ceil(10_000 / PUSH_BATCH)
    assert f"({PUSH_BATCH} registrations in 1 batch)" in summary

    bureau_holds = held(http, bureau)
    assert bureau_holds.pop("batches") == batches
    assert set(bureau_holds) == {row[0] for row in rows}
    assert {h["deliveries"] for h in bureau_holds.values()} == {1}  # each exactly once
    first = bureau_holds[rows[0][0]]["body"]
    assert (first["region_code"], first["id_number"], first["name"]) == (VILLAGE_2, *rows[0][1:3])
    # Medical 2020 in Xinxiang: a 250-yuan share, nothing paid by the government for them.
    assert {
        (h["body"]["payable_fen"], h["body"]["gov_paid_fen"]) for h in bureau_holds.values()
    } == {(25000, 0)}
    assert {h["body"]["region_code"] for h in bureau_holds.values()} == {VILLAGE, VILLAGE_2}
    ours = fresh(
        session,
        lambda s: s.execute(
            select(LedgerMessage.status, LedgerMessage.attempts, func.count())
            .where(LedgerMessage.kind == "registration")
            .group_by(LedgerMessage.status, LedgerMessage.attempts)
        ).all(),
    )
    assert ours == [("delivered", 1, 10_000)]

    # A groups file makes a person 低保: their registration costs less, and is pushed again.
    groups = f"id_number,name,group,year,source\n{rows[0][1]},{rows[0][2]},dibao,2019,民政\n"
    answer = http.post(
        f"{server.url}/api/staff/v1/imports/groups",
        headers=agency,
        files={"file": ("groups.csv", io.BytesIO(groups.encode()))},
    )
    assert answer.json()["counts"]["inserted"] == 1
    assert "(1 registration in 1 batch)" in deliver(push_app)
    again = held(http, bureau)[rows[0][0]]
    assert (again["body"]["payable_fen"], again["body"]["gov_paid_fen"]) == (15000, 10000)
    assert (again["pushes"], again["deliveries"]) == (2, 2)


def test_a_payment_waits_for_its_registrations_push(
    http, server, bureau, fake_wechat, push_app, session, clock
):
    _, [registration] = add_person(session, schemes=MEDICAL)
    paid(http, server, fake_wechat, registration)
    http.post(f"{bureau.url}/_control/faults", json={"fail_next": 1})

    # The push fails; the payment is not even tried: the bureau never sees it before the
    # registration.
    assert "ledger: delivered 0, failed 1, dead 0" in deliver(push_app)
    assert payment_message(session).attempts == 0
    assert payments_at_the_bureau(http, bureau) == []
    with push_app.extensions["db_sessions"]() as claimer, claimer.begin():
        assert claim_due(claimer, now=clock.now() + timedelta(hours=1), limit=10) == []

    # Once the push is due again, one round delivers both, the push first.
    clock.advance(timedelta(seconds=FIRST_RETRY))
    assert "delivered 2 (1 registration in 1 batch)" in deliver(push_app)
    bureau_holds = held(http, bureau)
    assert bureau_holds[registration.collection_no]["deliveries"] == 1
    [payment] = payments_at_the_bureau(http, bureau)
    assert payment["body"]["collection_no"] == registration.collection_no


def test_a_payment_the_bureau_does_not_know_is_shown_kept_and_sent_once_pushed_again(
    http, server, bureau, fake_wechat, push_app, session, staff_token, clock
):
    _, [registration] = add_person(session, schemes=MEDICAL)
    number = registration.collection_no
    assert "(1 registration in 1 batch)" in deliver(push_app)
    # The bureau loses the registration; then the person pays.
    assert http.delete(f"{bureau.url}/_control/registrations/{number}").status_code == 200
    order_no = paid(http, server, fake_wechat, registration)

    assert "ledger: delivered 0, failed 1, dead 0" in deliver(push_app)
    message = payment_message(session)
    assert (message.status, message.attempts) == ("pending", 1)
    assert f"税务局不认识征集流水号 {number}" in message.last_error
    assert "须重新推送该登记" in message.last_error
    [attempt] = fresh(
        session,
        lambda s: s.scalars(
            select(LedgerAttempt).where(LedgerAttempt.message_id == message.id)
        ).all(),
    )
    assert (attempt.http_status, attempt.outcome, attempt.error) == (
        409,
        "failed",
        message.last_error,
    )
    # Nothing credited twice, nothing lost: the bureau holds no payment, ours is kept for later.
    assert payments_at_the_bureau(http, bureau) == []
    assert fresh(session, lambda s: s.get(Registration, registration.id).status) == "paid"
    # An operator sees it, with its collection serial and why.
    admin = {"Authorization": f"Bearer {staff_token('admin')}"}
    listed = http.get(
        f"{server.url}/api/staff/v1/ledger/messages",
        params={"status": "pending", "kind": "payment"},
        headers=admin,
    ).json()
    assert [(m["collection_no"], m["last_error"]) for m in listed] == [(number, message.last_error)]
    assert listed[0]["attempt_log"][0]["http_status"] == 409
    # Retried with back-off like any failure: not before its time.
    assert "ledger: delivered 0, failed 0, dead 0" in deliver(push_app)

    # Pushing it again: an agency of the county (not another county's, not a viewer).
    url = f"{server.url}/api/staff/v1/ledger/pushes"
    far = {"Authorization": f"Bearer {staff_token('agency', '410724', 'far-agency')}"}
    viewer = {"Authorization": f"Bearer {staff_token('viewer', '410721')}"}
    assert http.post(url, json={"collection_no": number}, headers=far).status_code == 404
    assert http.post(url, json={"collection_no": number}, headers=viewer).status_code == 403
    assert http.post(url, json={"collection_no": "X-none"}, headers=admin).status_code == 404
    agency = {"Authorization": f"Bearer {staff_token('agency', '410721')}"}
    pushed = http.post(url, json={"collection_no": number}, headers=agency)
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["message_id"].startswith(f"reg-{registration.id}-")
    audited = fresh(
        session,
        lambda s: s.execute(
            select(AuditEntry.target, AuditEntry.region_code).where(
                AuditEntry.action == "ledger.push"
            )
        ).all(),
    )
    assert audited == [(number, "410721000000")]
    cli = push_app.test_cli_runner().invoke(args=["ledger", "push", "X-none"])
    assert cli.exit_code != 0 and "X-none" in cli.output

    assert "(1 registration in 1 batch)" in deliver(push_app)
    clock.advance(timedelta(seconds=FIRST_RETRY))
    assert "ledger: delivered 1, failed 0, dead 0" in deliver(push_app)
    [payment] = payments_at_the_bureau(http, bureau)
    assert (payment["body"]["collection_no"], payment["deliveries"]) == (number, 1)
    message = payment_message(session)
    assert (message.status, message.attempts, message.last_error) == ("delivered", 2, None)
    # ... and the bureau enters it into the treasury as any payment.
    auth = sign_in(http, server.url, fake_wechat, "push-payer")
    wait_until(
        lambda: (
            get_order(http, server.url, auth, order_no).json()["items"][0]["ledger_state"]
            == "treasury_entered"
        )
    )
