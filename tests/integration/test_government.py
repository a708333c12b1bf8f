"""Government-paid registrations (代缴/资助) over real HTTP: an agency drafts a county's batch,
confirms it once, the worker tells the fake bureau (payer: finance), the bureau confirms the
treasury entries, and progress, settlement and booking files show the government's channel."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from backend import create_app
from backend.auth.staff import create_staff
from backend.models import AuditEntry, LedgerMessage, Registration, SpecialGroupMembership
from backend.values.beijing import beijing_today
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.bureau import bureau_for
from tests.support.regions import COUNTY, OTHER_VILLAGE
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import fresh, run_worker, wait_until

URL = "/api/staff/v1/government-batches"
MEDICAL = {"county": "410721", "scheme": "medical", "period_year": 2020}
PENSION = {"county": "410721", "scheme": "pension", "period_year": 2019}


@pytest.fixture
def gov_app(app_config, with_regions):
    return create_app({**app_config, "LEDGER_RETRY_SCHEDULE": (0, 0, 0)})


@pytest.fixture
def server(gov_app):
    with serve(gov_app) as running:
        yield running


@pytest.fixture
def bureau(server, gov_app, clock):
    with bureau_for(gov_app, server.url, clock) as running:
        yield running


@pytest.fixture
def session(gov_app):
    with gov_app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def people(session):
    """新乡县: a 特困 adult, a 低保 adult, an orphan child, an ordinary adult; 获嘉县: a 特困 adult."""
    made = {}
    for key, groups, birth, schemes, village in [
        ("tekun", ("tekun",), age_on_2019(50), None, None),
        ("dibao", ("dibao",), age_on_2019(45), None, None),
        ("orphan", ("orphan",), "20120305", (("medical", 2020),), None),
        ("ordinary", (), age_on_2019(30), None, None),
        ("far", ("tekun",), age_on_2019(40), None, OTHER_VILLAGE),
    ]:
        extra = {"schemes": schemes} if schemes else {}
        if village:
            extra["village"] = village
        _, regs = add_person(
            session,
            name="王" + "小大"[len(made) % 2] + "明",
            birth=birth,
            seq=f"{len(made) + 31:03d}",
            groups=groups,
            **extra,
        )
        made[key] = {r.scheme: r for r in regs}
    return made


@pytest.fixture
def agency(staff_token):
    return {"Authorization": f"Bearer {staff_token('agency', '410721')}"}


def draft(http, server, headers, body):
    return http.post(server.url + URL, json=body, headers=headers)


def confirm(http, server, headers, batch_no):
    return http.post(f"{server.url}{URL}/{batch_no}/confirm", headers=headers)


def statuses(session, registrations):
    return fresh(
        session,
        lambda s: [
            (s.get(Registration, r.id).status, s.get(Registration, r.id).paid_channel)
            for r in registrations
        ],
    )


def ledger_messages(session):
    """The payment messages (the registrations' pushes left out)."""
    return fresh(
        session,
        lambda s: sorted(
            (m.message_id, m.registration_id)
            for m in s.scalars(select(LedgerMessage).where(LedgerMessage.kind == "payment"))
        ),
    )


def test_a_draft_lists_the_countys_unpaid_registrations_the_government_pays_in_full(
    session, people, http, server, agency, staff_token
):
    answer = draft(http, server, agency, MEDICAL)
    assert answer.status_code == 201, answer.text
    batch = answer.json()
    assert batch["batch_no"] == "G4107212020M0001" and batch["status"] == "draft"
    # 特困 and 孤儿 have their whole 250 yuan paid; 低保 gets 100 and pays the rest: not listed.
    items = batch["items"]
    assert [(i["applied_group"], i["gov_paid_fen"]) for i in items] == [
        ("tekun", 25000),
        ("orphan", 25000),
    ]
    assert (batch["item_count"], batch["total_fen"]) == (2, 50000)
    assert items[0]["name_masked"] == "王**" and "********" in items[0]["id_number_masked"]
    assert "王小明" not in answer.text and people["tekun"]["medical"].collection_no in answer.text

    pension = draft(http, server, agency, PENSION).json()
    # Pension: the 100-yuan grade the government pays for the four pension groups, with its
    # contribution subsidy; the orphan is a child and has no pension registration.
    assert [(i["applied_group"], i["grade_yuan"], i["gov_paid_fen"]) for i in pension["items"]] == [
        ("tekun", 100, 10000),
        ("dibao", 100, 10000),
    ]
    assert {i["contribution_subsidy_fen"] for i in pension["items"]} == {3000}

    again = draft(http, server, agency, MEDICAL)
    assert again.status_code == 409
    assert (
        "G4107212020M0001" in again.json()["message"] and again.json()["reason"] == "draft_exists"
    )

    viewer = {"Authorization": f"Bearer {staff_token('viewer', '410721')}"}
    assert draft(http, server, viewer, {**MEDICAL, "period_year": 2019}).status_code == 403
    assert http.get(f"{server.url}{URL}/{batch['batch_no']}", headers=viewer).status_code == 200
    far = {"Authorization": f"Bearer {staff_token('agency', '410724', 'far-agency')}"}
    assert draft(http, server, far, MEDICAL).status_code == 404
    assert http.get(f"{server.url}{URL}/{batch['batch_no']}", headers=far).status_code == 404
    assert confirm(http, server, far, batch["batch_no"]).status_code == 404
    assert http.get(server.url + URL, headers=far).json() == []
    listed = http.get(server.url + URL, params={"scheme": "medical"}, headers=agency).json()
    assert [b["batch_no"] for b in listed] == ["G4107212020M0001"]

    nobody = draft(http, server, far, {**MEDICAL, "county": "410724"})
    assert nobody.status_code == 201 and len(nobody.json()["items"]) == 1  # 获嘉县's own


def test_confirming_credits_once_however_often_and_however_concurrently_it_is_called(
    session, people, http, server, agency, gov_app
):
    batch_no = draft(http, server, agency, MEDICAL).json()["batch_no"]
    answers = []

    def click():
        answers.append(confirm(http_session(), server, agency, batch_no))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 4
    assert {(a.json()["status"], a.json()["credited_count"]) for a in answers} == {("confirmed", 2)}
    again = confirm(http, server, agency, batch_no)
    assert again.status_code == 200 and again.json() == answers[0].json()

    paid = [people["tekun"]["medical"], people["orphan"]["medical"]]
    assert statuses(session, paid) == [("paid", "government")] * 2
    item_ids = sorted(m for m, _ in ledger_messages(session))
    assert len(item_ids) == 2 and all(m.startswith("gov-") for m in item_ids)
    assert statuses(session, [people["dibao"]["medical"]]) == [("unpaid", None)]
    audits = fresh(
        session,
        lambda s: s.execute(
            select(AuditEntry.action, AuditEntry.region_code).where(
                AuditEntry.action == "government_batch.confirmed"
            )
        ).all(),
    )
    assert audits == [("government_batch.confirmed", COUNTY)]

    # The staff list shows how each registration was paid.
    listed = http.get(
        server.url + "/api/staff/v1/registrations",
        params={"scheme": "medical", "status": "paid"},
        headers=agency,
    ).json()
    assert sorted(r["paid_channel"] for r in listed) == ["government", "government"]
    # Nothing left to pay for: a new draft has nobody to list.
    assert draft(http, server, agency, MEDICAL).json()["reason"] == "nothing_to_pay"


def http_session():
    import requests

    return requests.Session()


def test_items_paid_meanwhile_or_no_longer_government_paid_are_skipped_with_a_reason(
    session, people, http, server, agency, fake_wechat
):
    batch_no = draft(http, server, agency, PENSION).json()["batch_no"]
    # The 低保 person chooses the 200 grade and pays the 100 yuan above the government's share.
    auth = sign_in(http, server.url, fake_wechat, "dibao-self")
    created = order(http, server.url, auth, [(people["dibao"]["pension"].ref, 200)]).json()
    pay(http, fake_wechat, created["order_no"])
    wait_until(
        lambda: get_order(http, server.url, auth, created["order_no"]).json()["status"] == "paid"
    )
    # The 特困 person's membership is withdrawn from the list before finance pays.
    session.execute(
        delete(SpecialGroupMembership).where(
            SpecialGroupMembership.enrollee_id == people["tekun"]["pension"].enrollee_id
        )
    )
    session.commit()

    confirmed = confirm(http, server, agency, batch_no).json()
    assert (confirmed["credited_count"], confirmed["credited_fen"]) == (0, 0)
    assert [(i["outcome"], i["skip_reason"]) for i in confirmed["items"]] == [
        ("skipped", "no_longer_government_paid"),
        ("skipped", "paid_by_resident"),
    ]
    assert confirmed["items"][1]["skip_note"] == "已由本人缴费"
    assert statuses(session, [people["dibao"]["pension"], people["tekun"]["pension"]]) == [
        ("paid", "wechat_miniprogram"),
        ("unpaid", None),
    ]
    assert not [m for m, _ in ledger_messages(session) if m.startswith("gov-")]


def test_a_membership_that_arrives_after_the_owner_paid_changes_nothing_paid(
    session, people, http, server, agency, fake_wechat
):
    ordinary = people["ordinary"]["medical"]
    auth = sign_in(http, server.url, fake_wechat, "paid-first")
    created = order(http, server.url, auth, [ordinary.ref]).json()
    pay(http, fake_wechat, created["order_no"])
    wait_until(
        lambda: get_order(http, server.url, auth, created["order_no"]).json()["status"] == "paid"
    )
    session.add(
        SpecialGroupMembership(
            enrollee_id=ordinary.enrollee_id, group="tekun", year=2019, source="民政"
        )
    )
    session.commit()

    items = draft(http, server, agency, MEDICAL).json()["items"]
    assert ordinary.collection_no not in [i["collection_no"] for i in items]
    assert statuses(session, [ordinary]) == [("paid", "wechat_miniprogram")]


def test_a_cancelled_draft_cannot_be_confirmed_and_a_confirmed_one_cannot_be_cancelled(
    session, people, http, server, agency
):
    first = draft(http, server, agency, MEDICAL).json()["batch_no"]
    cancelled = http.post(f"{server.url}{URL}/{first}/cancel", headers=agency)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    refused = confirm(http, server, agency, first)
    assert refused.status_code == 409 and refused.json()["reason"] == "batch_cancelled"

    second = draft(http, server, agency, MEDICAL).json()["batch_no"]
    assert second == "G4107212020M0002"
    assert confirm(http, server, agency, second).status_code == 200
    late = http.post(f"{server.url}{URL}/{second}/cancel", headers=agency)
    assert late.status_code == 409 and late.json()["reason"] == "batch_confirmed"
    assert statuses(session, [people["tekun"]["medical"]]) == [("paid", "government")]


def test_the_bureau_enters_government_payments_and_every_file_shows_the_channel(
    session, people, http, server, bureau, agency, gov_app, staff_token, clock
):
    batch_no = draft(http, server, agency, MEDICAL).json()["batch_no"]
    assert confirm(http, server, agency, batch_no).status_code == 200
    assert confirm(http, server, agency, batch_no).status_code == 200

    # The people's nine registrations pushed first, then the two payments, in one round.
    assert "ledger: delivered 11 (9 registrations in 1 batch)" in run_worker(gov_app)
    received = http.get(f"{bureau.url}/_control/messages").json()
    assert len(received) == 2 and all(m["deliveries"] == 1 for m in received)
    body = received[0]["body"]
    assert (body["channel"], body["payer"], body["order_no"]) == ("government", "finance", batch_no)
    assert body["transaction_id"] is None and body["amount_fen"] == 25000
    assert body["paid_at"].startswith("2019-11-20")

    paid = [people["tekun"]["medical"], people["orphan"]["medical"]]

    def entered():
        found = fresh(session, lambda s: [s.get(Registration, r.id) for r in paid])
        return all(r.status == "treasury_entered" and r.tax_receipt_no for r in found)

    wait_until(entered)
    assert "ledger: delivered 0" in run_worker(gov_app)
    assert len(ledger_messages(session)) == 2

    # Progress, once the worker has rolled the day up again (at most once a PROGRESS_ROLL_SECONDS).
    clock.advance(timedelta(seconds=gov_app.config["APP_CONFIG"].PROGRESS_ROLL_SECONDS + 1))
    run_worker(gov_app)
    progress = http.get(
        server.url + "/api/staff/v1/progress",
        params={"region": "410721", "scheme": "medical", "period_year": 2020},
        headers=agency,
    ).json()
    assert (progress["paid_by_government"], progress["paid_by_resident"]) == (2, 0)
    assert progress["gov_paid_fen"] == 50000 and progress["treasury_entered"] == 2
    assert progress["paid_by_channel"].get("government") == 2

    today = beijing_today(clock.now()).isoformat()
    query = {"date": today, "county": "410721", "scheme": "medical"}
    booking = (
        http.get(server.url + "/api/staff/v1/ledger/treasury-entries", params=query, headers=agency)
        .content.decode("utf-8-sig")
        .splitlines()
    )
    header = booking[0].split(",")
    assert header[-1] == "渠道"
    rows = [line.split(",") for line in booking[1:3]]
    assert [(r[-1], r[11]) for r in rows] == [("财政代缴", batch_no)] * 2
    assert booking[-1].split(",")[:2] == ["合计", "2 笔"]

    recon = {"Authorization": f"Bearer {staff_token('recon', '410721')}"}
    lines = (
        http.get(server.url + "/api/staff/v1/settlement", params=query, headers=recon)
        .content.decode("utf-8-sig")
        .splitlines()
    )
    rows = [line.split(",") for line in lines[1:]]
    assert [(r[0], r[2], r[9], r[-1]) for r in rows[:2]] == [
        ("财政代缴", batch_no, "25000", "财政代缴")
    ] * 2
    # WeChat moved no money: its totals stay 0; the government's rows add up on their own line.
    assert [r[:2] + r[9:10] for r in rows[2:]] == [
        ["支付合计", "0 笔", "0"],
        ["退款合计", "0 笔", "0"],
        ["财政代缴合计", "2 笔", "50000"],
        ["净额", "0 笔", "0"],
    ]


def test_a_department_drafts_and_sees_only_its_own_schemes_batches(
    session, people, http, server, agency, gov_app
):
    with gov_app.extensions["db_sessions"]() as writer:
        token = create_staff(
            writer,
            name="人社-410721",
            role="agency",
            region="410721",
            actor="test",
            department="hrss",
        )
        writer.commit()
    hrss = {"Authorization": f"Bearer {token}"}
    refused = draft(http, server, hrss, MEDICAL)
    assert refused.status_code == 422 and refused.json()["reason"] == "other_department"
    medical = draft(http, server, agency, MEDICAL).json()["batch_no"]
    assert http.get(f"{server.url}{URL}/{medical}", headers=hrss).status_code == 404
    pension = draft(http, server, hrss, PENSION)
    assert pension.status_code == 201
    listed = http.get(server.url + URL, headers=hrss).json()
    assert [b["batch_no"] for b in listed] == [pension.json()["batch_no"]]
