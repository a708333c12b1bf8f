"""The collector channel (代征单位) over real HTTP: the app, the fake bureau, the fake exchange and
the worker. A village collects locally, the agency closes the batch (单据号), the worker declares
it (the bureau down a while, one registration refused), the bureau enters the rest with receipt
numbers, the worker pushes the booking details; and the holds keep WeChat and the collector from
taking the same registration."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend import create_app
from backend.errors import Conflict
from backend.infra.statements import Reader
from backend.infra.web import new_unit_of_work, policy_book
from backend.models import AuditEntry, Enrollee, PaymentOrder, ProgressChange, Registration
from backend.orders.creation import ItemRequest, OrderRequest, create_order
from backend.payments import gateway_from_config
from backend.values.beijing import beijing_today
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.bureau import bureau_for
from tests.support.collectors import (
    BATCHES,
    act,
    batch,
    bearer,
    download_list,
    filled,
    open_batch,
    record,
    sheet_rows,
    upload,
)
from tests.support.dashboard import csrf_of, staff_account, text_of
from tests.support.dashboard import sign_in as sign_in_staff
from tests.support.regions import OTHER_VILLAGE, TOWNSHIP, VILLAGE, VILLAGE_2
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import fresh, run_worker, wait_until

RETRY = (30, 120)


@pytest.fixture
def collect_app(app_config, with_regions):
    return create_app({**app_config, "LEDGER_RETRY_SCHEDULE": RETRY})


@pytest.fixture
def server(collect_app):
    with serve(collect_app) as running:
        yield running


@pytest.fixture
def bureau(server, collect_app, clock):
    with bureau_for(collect_app, server.url, clock) as running:
        yield running


@pytest.fixture
def session(collect_app):
    with collect_app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def people(session):
    """大召营村: 张一 (pension and medical), 张二, 张三 (medical); 小召营村: 李四; 获嘉县: 王五."""
    made = {}
    for key, name, village, schemes in [
        ("one", "张一", VILLAGE, (("pension", 2019), ("medical", 2020))),
        ("two", "张二", VILLAGE, (("medical", 2020),)),
        ("three", "张三", VILLAGE, (("medical", 2020),)),
        ("four", "李四", VILLAGE_2, (("medical", 2020),)),
        ("five", "王五", OTHER_VILLAGE, (("medical", 2020),)),
    ]:
        _, registrations = add_person(
            session,
            name=name,
            birth=age_on_2019(40),
            seq=f"{len(made) + 41:03d}",
            village=village,
            schemes=schemes,
        )
        made[key] = {r.scheme: r for r in registrations}
    return made


@pytest.fixture
def collector(collect_app):
    return bearer(staff_account(collect_app, "大召营村代征", "collector", VILLAGE))


@pytest.fixture
def agency(collect_app):
    return bearer(staff_account(collect_app, "新乡县社保医保", "agency", "410721"))


def states(session, registrations):
    return fresh(
        session,
        lambda s: [
            (s.get(Registration, r.id).status, s.get(Registration, r.id).paid_channel)
            for r in registrations
        ],
    )


def test_a_village_collects_and_the_batch_goes_from_list_to_booked(
    session, people, http, server, bureau, fake_exchange, collector, agency, collect_app, clock
):
    base = server.url
    # An import's household number that would run as a formula in Excel.
    session.execute(
        update(Enrollee)
        .where(Enrollee.id == people["two"]["medical"].enrollee_id)
        .values(household_no="=HYPERLINK(1)")
    )
    session.commit()

    # 1. The list: the village's people in full name, ID numbers cut to 6 + 4, amounts due.
    listed = download_list(http, base, collector, "medical", 2020)
    rows = sheet_rows(listed)
    # Not 小召营村, not 获嘉县; by household (none first), then ID number.
    assert [r["姓名"] for r in rows] == ["张一", "张三", "张二"]
    assert {r["区县代码"] for r in rows} == {"410721"}
    assert all(
        len(r["身份证号（部分）"]) == 18 and "********" in r["身份证号（部分）"] for r in rows
    )
    assert {r["应缴金额（元）"] for r in rows} == {"250.00"}
    assert {r["状态"] for r in rows} == {"未缴费"}
    assert rows[2]["户号"] == "'=HYPERLINK(1)"
    pension = sheet_rows(download_list(http, base, collector, "pension", 2019))
    assert [r["姓名"] for r in pension] == ["张一"]
    assert pension[0]["可选档次（元）"].startswith("200、300、400")

    # 2. Recording: one through the API (a pension grade), the rest by uploading the list back.
    batch_no = open_batch(http, base, collector)["batch_no"]
    assert open_batch(http, base, collector)["batch_no"] == batch_no  # one open batch per unit
    one, two, three = (people[k]["medical"] for k in ("one", "two", "three"))
    recorded = record(
        http,
        base,
        collector,
        batch_no,
        registration_ref=people["one"]["pension"].ref,
        grade_yuan=300,
    )
    assert recorded.status_code == 201, recorded.text
    assert (recorded.json()["amount_fen"], recorded.json()["grade_yuan"]) == (30000, 300)
    marks = {one.collection_no: "是", two.collection_no: "√", three.collection_no: "也许"}
    report = upload(http, base, collector, batch_no, filled(listed, marks)).json()
    assert (report["recorded"], report["rejected"], report["skipped"]) == (2, 1, 0)
    assert [(r["line"], r["outcome"]) for r in report["rows"]] == [
        (2, "recorded"),
        (3, "rejected"),
        (4, "recorded"),
    ]
    assert report["rows"][1]["reason"] == "bad_mark" and "也许" in report["rows"][1]["message"]
    again = upload(
        http, base, collector, batch_no, filled(listed, {**marks, three.collection_no: "是"})
    )
    assert [r["outcome"] for r in again.json()["rows"]] == ["unchanged", "recorded", "unchanged"]
    assert states(session, [one, two, three]) == [("pending", None)] * 3

    # The registrations reach the bureau (their pushes), as they would soon after the import: a
    # batch is declared only once the bureau has every registration in it.
    run_worker(collect_app)
    held = http.get(f"{bureau.url}/_control/registrations").json()["registrations"]
    assert {one.collection_no, two.collection_no, three.collection_no} <= {
        r["collection_no"] for r in held
    }
    # 3. The agency closes it: the 单据号, its total and counts; the batch takes no more.
    closed = act(http, base, agency, batch_no, "close")
    assert closed.status_code == 200, closed.text
    closed = closed.json()
    declaration_no = closed["declaration_no"]
    assert declaration_no.startswith("D41072120191120") and closed["status"] == "closed"
    assert (closed["item_count"], closed["total_fen"]) == (4, 30000 + 3 * 25000)
    assert (closed["pension_count"], closed["medical_count"]) == (1, 3)
    late = record(http, base, collector, batch_no, registration_ref=people["four"]["medical"].ref)
    assert late.status_code in (404, 409)
    assert act(http, base, collector, batch_no, "close").status_code == 403

    # 4. The bureau is down: the declaration waits on the retry schedule, its error visible.
    http.post(f"{bureau.url}/_control/faults", json={"down": True})
    http.post(
        f"{bureau.url}/_control/declarations/refuse",
        json={
            "collection_nos": [three.collection_no],
            "reason": "amount_wrong",
            "message": "金额与核定不符",
        },
    )
    assert "declarations: declared 0, failed 1" in run_worker(collect_app)
    waiting = batch(http, base, agency, batch_no)
    assert waiting["status"] == "closed" and "503" in waiting["last_error"]
    # Not due again before its back-off.
    assert "declarations: declared 0, failed 0" in run_worker(collect_app)
    clock.advance(timedelta(seconds=RETRY[0] + 1))
    http.post(f"{bureau.url}/_control/faults", json={"down": False})
    # The exchange is down from here to step 7: the entries may come back while this worker round
    # still runs, and its booking must not get through before step 7 looks.
    http.post(f"{fake_exchange.url}/_control/reset")
    http.post(f"{fake_exchange.url}/_control/faults", json={"down": True})
    assert "declarations: declared 1, failed 0" in run_worker(collect_app)
    sent = http.get(f"{bureau.url}/_control/declarations/{declaration_no}").json()
    assert sent["body"]["total_fen"] == 105000 and sent["body"]["counts"] == {
        "pension": 1,
        "medical": 3,
    }
    assert sent["body"]["collecting_unit"] == {
        "kind": "village",
        "name": "翟坡镇大召营村",
        "region_code": VILLAGE,
    }
    assert {r["id_number"] for r in sent["body"]["registrations"]} >= {
        fresh(session, lambda s: s.get(Enrollee, one.enrollee_id).id_number)
    }

    # 5. The refused person is free again, with the bureau's reason; the batch cannot be cancelled.
    declared = batch(http, base, agency, batch_no)
    refused = [i for i in declared["items"] if i["outcome"] == "refused"]
    assert [(i["collection_no"], i["refusal_reason"], i["refusal_note"]) for i in refused] == [
        (three.collection_no, "amount_wrong", "金额与核定不符")
    ]
    assert states(session, [three]) == [("unpaid", None)]
    assert act(http, base, agency, batch_no, "cancel").json()["reason"] == "batch_declared"

    # 6. The bureau enters the accepted ones: credited (channel collector) and entered.
    wait_until(lambda: batch(http, base, agency, batch_no)["status"] == "entered")
    entered = [one, two, people["one"]["pension"]]
    assert states(session, entered) == [("treasury_entered", "collector")] * 3
    receipts = fresh(session, lambda s: [s.get(Registration, r.id).tax_receipt_no for r in entered])
    assert all(receipts) and len(set(receipts)) == 3
    journal = fresh(
        session,
        lambda s: s.execute(
            select(ProgressChange.paid, ProgressChange.entered, ProgressChange.paid_fen).where(
                ProgressChange.channel == "collector"
            )
        ).all(),
    )
    assert sorted(journal) == [(1, 1, 25000), (1, 1, 25000), (1, 1, 30000)]

    # 7. The exchange is down a while; the booking details get there once.
    run_worker(collect_app)  # its booking fails (if the declaring round has not tried already)
    assert "503" in batch(http, base, agency, batch_no)["last_error"]
    assert batch(http, base, agency, batch_no)["status"] == "entered"
    clock.advance(timedelta(seconds=RETRY[0] + 1))
    http.post(f"{fake_exchange.url}/_control/faults", json={"down": False})
    assert "bookings: booked 1, failed 0" in run_worker(collect_app)
    booked = batch(http, base, agency, batch_no)
    assert booked["status"] == "booked" and booked["booking_ref"] and booked["last_error"] is None
    [booking] = http.get(f"{fake_exchange.url}/_control/bookings").json()
    assert booking["deliveries"] == 1 and booking["body"]["declaration_no"] == declaration_no
    assert sorted(d["tax_receipt_no"] for d in booking["body"]["details"]) == sorted(receipts)
    assert booking["body"]["total_fen"] == 80000

    # 8. The day's files list the collector's entries apart, as 代征单位.
    query = {
        "date": beijing_today(clock.now()).isoformat(),
        "county": "410721",
        "scheme": "medical",
    }
    booking_file = (
        http.get(base + "/api/staff/v1/ledger/treasury-entries", params=query, headers=agency)
        .content.decode("utf-8-sig")
        .splitlines()
    )
    lines = [line.split(",") for line in booking_file[1:3]]
    assert [(r[-1], r[11]) for r in lines] == [("代征单位", declaration_no)] * 2
    recon = bearer(staff_account(collect_app, "对账-410721", "recon", "410721"))
    settlement = (
        http.get(base + "/api/staff/v1/settlement", params=query, headers=recon)
        .content.decode("utf-8-sig")
        .splitlines()
    )
    rows = [line.split(",") for line in settlement[1:]]
    assert [(r[0], r[2], r[9], r[-1]) for r in rows[:2]] == [
        ("代征单位", declaration_no, "25000", "代征单位")
    ] * 2
    totals = {r[0]: (r[1], r[9]) for r in rows[2:]}
    assert totals["代征单位合计"] == ("2 笔", "50000")
    assert totals["净额"] == ("0 笔", "0")  # no WeChat money moved

    # Every step audited with its county.
    audits = fresh(
        session,
        lambda s: s.execute(
            select(AuditEntry.action, AuditEntry.region_code).where(
                AuditEntry.action.startswith("collector_batch.")
            )
        ).all(),
    )
    assert {region for _, region in audits} == {"410721000000"}
    assert {action for action, _ in audits} >= {
        "collector_batch.opened",
        "collector_batch.recorded",
        "collector_batch.uploaded",
        "collector_batch.closed",
        "collector_batch.declared",
        "collector_batch.entries",
        "collector_batch.entered",
        "collector_batch.booked",
    }


def test_wechat_and_the_collector_never_both_take_a_registration(
    session, people, http, server, bureau, fake_wechat, collector, collect_app, clock
):
    base = server.url
    batch_no = open_batch(http, base, collector)["batch_no"]
    one, two, three = (people[k]["medical"] for k in ("one", "two", "three"))
    # Recorded by the village: WeChat refuses to take it, and says why.
    assert record(http, base, collector, batch_no, registration_ref=one.ref).status_code == 201
    auth = sign_in(http, base, fake_wechat, "away-from-home")
    refused = order(http, base, auth, [one.ref])
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "held_by_collector" and "代征" in refused.json()["message"]

    # In an open WeChat order, the village cannot record it; once paid, neither.
    created = order(http, base, auth, [two.ref]).json()
    busy = record(http, base, collector, batch_no, collection_no=two.collection_no)
    assert (busy.status_code, busy.json()["reason"]) == (409, "in_wechat_order")
    pay(http, fake_wechat, created["order_no"])
    wait_until(lambda: get_order(http, base, auth, created["order_no"]).json()["status"] == "paid")
    paid = record(http, base, collector, batch_no, collection_no=two.collection_no)
    assert (paid.status_code, paid.json()["reason"]) == (409, "already_paid")

    # A WeChat payment arriving after its order closed, for a registration the village recorded
    # meanwhile: not credited, due back to the payer in full.
    late = order(http, base, auth, [three.ref]).json()
    clock.advance(timedelta(seconds=collect_app.config["ORDER_TTL_SECONDS"] + 1))
    assert "closed 1" in run_worker(collect_app)
    assert record(http, base, collector, batch_no, registration_ref=three.ref).status_code == 201
    pay(http, fake_wechat, late["order_no"], force=True)
    answer = wait_until(
        lambda: (
            (o := get_order(http, base, auth, late["order_no"]).json())["status"] == "refund_due"
            and o
        )
    )
    assert answer["status_reason"] == "duplicate_payment"
    assert states(session, [one, three]) == [("pending", None)] * 2
    held = batch(http, base, collector, batch_no)
    assert sorted(i["collection_no"] for i in held["items"]) == sorted(
        [one.collection_no, three.collection_no]
    )


def test_cancelling_before_the_declaration_releases_every_hold(
    session, people, http, server, fake_wechat, collector, agency
):
    base = server.url
    one, two = people["one"]["medical"], people["two"]["medical"]
    first = open_batch(http, base, collector)["batch_no"]
    for registration in (one, two):
        assert record(http, base, collector, first, registration_ref=registration.ref).ok
    cancelled = act(http, base, agency, first, "cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert {i["outcome"] for i in cancelled.json()["items"]} == {"cancelled"}
    assert states(session, [one, two]) == [("unpaid", None)] * 2
    assert act(http, base, agency, first, "cancel").status_code == 200  # again: no change
    gone = record(http, base, collector, first, registration_ref=one.ref)
    assert (gone.status_code, gone.json()["reason"]) == (409, "batch_not_open")

    # Closed (its 单据号 made) but not yet declared: still cancelled, still released.
    second = open_batch(http, base, collector)["batch_no"]
    assert second != first
    assert record(http, base, collector, second, registration_ref=one.ref).status_code == 201
    assert act(http, base, agency, second, "close").json()["status"] == "closed"
    assert act(http, base, agency, second, "cancel").json()["status"] == "cancelled"
    assert act(http, base, agency, second, "close").json()["reason"] == "batch_cancelled"
    assert states(session, [one]) == [("unpaid", None)]
    auth = sign_in(http, base, fake_wechat, "after-cancel")
    assert order(http, base, auth, [one.ref]).status_code == 201


def test_collectors_and_agencies_stay_inside_their_region(
    session, people, http, server, collector, agency, collect_app
):
    base = server.url
    batch_no = open_batch(http, base, collector)["batch_no"]
    # Another village of the township, another county: not found for the village's collector.
    for key in ("four", "five"):
        outside = record(
            http, base, collector, batch_no, registration_ref=people[key]["medical"].ref
        )
        assert (outside.status_code, outside.json()["reason"]) == (404, "registration_not_found")

    # A health service institution collects for its whole township.
    token = staff_account(collect_app, "翟坡镇卫生院", "collector", TOWNSHIP)
    made = collect_app.test_cli_runner().invoke(
        args=["collectors", "institution", "翟坡镇卫生院", "翟坡镇社区卫生服务中心"]
    )
    assert made.exit_code == 0, made.output
    institution = bearer(token)
    names = [r["姓名"] for r in sheet_rows(download_list(http, base, institution, "medical", 2020))]
    assert names == ["张一", "张二", "张三", "李四"]
    own = open_batch(http, base, institution)
    assert own["unit"] == {
        "kind": "health_institution",
        "name": "翟坡镇社区卫生服务中心",
        "region_code": TOWNSHIP,
    }
    four = people["four"]["medical"]
    assert record(http, base, institution, own["batch_no"], registration_ref=four.ref).ok

    # Each collector sees its own unit's batches only.
    assert http.get(f"{base}{BATCHES}/{batch_no}", headers=institution).status_code == 404
    mine = http.get(base + BATCHES, headers=institution).json()
    assert [b["batch_no"] for b in mine] == [own["batch_no"]]
    taken = record(http, base, institution, own["batch_no"], registration_ref=four.ref)
    assert (taken.status_code, taken.json()["reason"]) == (409, "already_recorded")

    # The county's agency sees both; another county's neither sees nor closes them.
    listed = http.get(base + BATCHES, headers=agency).json()
    assert sorted(b["batch_no"] for b in listed) == sorted([batch_no, own["batch_no"]])
    far = bearer(staff_account(collect_app, "获嘉县经办", "agency", "410724"))
    assert http.get(f"{base}{BATCHES}/{batch_no}", headers=far).status_code == 404
    assert act(http, base, far, own["batch_no"], "close").status_code == 404
    assert http.get(base + BATCHES, headers=far).json() == []
    # A viewer reads but does not close; agency staff have no list to collect with.
    viewer = bearer(staff_account(collect_app, "新乡县查看", "viewer", "410721"))
    assert http.get(f"{base}{BATCHES}/{own['batch_no']}", headers=viewer).status_code == 200
    assert act(http, base, viewer, own["batch_no"], "close").status_code == 403
    listing = http.get(
        base + "/api/staff/v1/collector-list",
        params={"scheme": "medical", "period_year": 2020},
        headers=agency,
    )
    assert listing.status_code == 403


class RacingReader(Reader):
    """The order's read, then `meanwhile` (once): someone acting between its read and its write."""

    def __init__(self, engine, meanwhile) -> None:
        super().__init__(engine)
        self.meanwhile = meanwhile

    def all(self, statement, **values):
        rows = super().all(statement, **values)
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            meanwhile()
        return rows


def test_a_collector_recording_while_an_order_is_written_keeps_the_registration(
    session, people, http, server, collector, collect_app, clock
):
    base = server.url
    batch_no = open_batch(http, base, collector)["batch_no"]
    two = people["two"]["medical"]

    def the_village_records_it():
        assert record(http, base, collector, batch_no, registration_ref=two.ref).status_code == 201

    reader = RacingReader(collect_app.extensions["db_reader"].engine, the_village_records_it)
    with collect_app.app_context(), pytest.raises(Conflict) as refused:
        create_order(
            new_unit_of_work(collect_app),
            reader,
            gateway_from_config(collect_app.config["APP_CONFIG"]),
            policy_book(),
            OrderRequest("oRACER", "race-1", (ItemRequest(two.ref),), "JSAPI", "127.0.0.1"),
            now=clock.now(),
            ttl=timedelta(minutes=30),
            check_after=timedelta(minutes=5),
        )
    assert refused.value.reason == "held_by_collector"
    # Whatever the order wrote is undone without touching the collector's hold.
    assert states(session, [two]) == [("pending", None)]
    assert [i["collection_no"] for i in batch(http, base, collector, batch_no)["items"]] == [
        two.collection_no
    ]
    orders = fresh(session, lambda s: s.execute(select(PaymentOrder.status)).scalars().all())
    assert orders in ([], ["closed"])


def test_the_dashboard_records_uploads_and_closes_a_batch(
    session, people, http, server, collect_app
):
    base = server.url
    one, two = people["one"]["medical"], people["two"]["medical"]
    village = staff_account(collect_app, "大召营村收缴员", "collector", VILLAGE)
    assert sign_in_staff(http, base, "大召营村收缴员", village).status_code == 302
    page = http.get(base + "/staff/collect")
    assert page.status_code == 200 and "新建代征批次" in page.text
    opened = http.post(base + "/staff/collect/open", data={"csrf_token": csrf_of(page.text)})
    assert opened.status_code == 200 and "收缴中的批次" in opened.text
    batch_no = re.search(r'data-batch="([^"]+)"', opened.text).group(1)
    form = {"csrf_token": csrf_of(opened.text), "batch_no": batch_no}
    done = http.post(
        base + "/staff/collect/record", data={**form, "collection_no": one.collection_no}
    )
    assert one.collection_no in text_of(done.text) and "250.00" in text_of(done.text)
    again = http.post(
        base + "/staff/collect/record", data={**form, "collection_no": one.collection_no}
    )
    assert again.status_code == 409 and "已在本批次中" in text_of(again.text)
    listed = http.get(
        base + "/staff/collect/list.xlsx", params={"scheme": "medical", "period_year": 2020}
    )
    uploaded = http.post(
        base + "/staff/collect/upload",
        data=form,
        files={"file": ("名单.xlsx", filled(listed.content, {two.collection_no: "是"}))},
    )
    assert "记录 1 项" in text_of(uploaded.text)
    assert states(session, [one, two]) == [("pending", None)] * 2

    # The county's agency closes it from the batch's page.
    http.cookies.clear()
    agency = staff_account(collect_app, "新乡县经办", "agency", "410721")
    sign_in_staff(http, base, "新乡县经办", agency)
    shown = http.get(f"{base}/staff/collector-batches/{batch_no}")
    assert shown.status_code == 200 and "生成单据号" in shown.text
    closed = http.post(
        f"{base}/staff/collector-batches/{batch_no}/close", data={"csrf_token": csrf_of(shown.text)}
    )
    assert closed.status_code == 200
    assert re.search(r"D410721\d{14}", text_of(closed.text)) and "待申报" in closed.text
    assert batch_no in http.get(base + "/staff/collector-batches").text


def test_finance_totals_count_what_the_government_funds_in_collected_registrations(
    session, collect_app
):
    """A 低保 person's medical contribution a village collected and the treasury entered: the
    government's 100 yuan counts in the county's finance totals; a refused one does not."""
    from backend.fees import PolicyBook
    from backend.finance.sources import subsidised_items
    from backend.models import CollectingUnit, CollectorBatch, CollectorBatchItem, StaffUser

    staff_account(collect_app, "大召营村代征", "collector", VILLAGE)
    staff = session.scalar(select(StaffUser).where(StaffUser.name == "大召营村代征"))
    unit = CollectingUnit(
        staff_user_id=staff.id,
        kind="village",
        name="大召营村",
        region_code=VILLAGE,
        county_code="410721000000",
    )
    session.add(unit)
    session.flush()
    entered = CollectorBatch(
        batch_no="C4107210001",
        unit_id=unit.id,
        region_code=VILLAGE,
        county_code="410721000000",
        status="entered",
        opened_by="t",
    )
    session.add(entered)
    session.flush()
    for seq, outcome, status in (
        ("071", "entered", "treasury_entered"),
        ("072", "refused", "unpaid"),
    ):
        _, [registration] = add_person(
            session, seq=seq, schemes=(("medical", 2020),), groups=("dibao",)
        )
        registration.status = status
        session.add(
            CollectorBatchItem(
                batch_id=entered.id,
                registration_id=registration.id,
                collection_no=registration.collection_no,
                scheme="medical",
                period_year=2020,
                amount_fen=15000,
                gov_paid_fen=10000,
                outcome=outcome,
                recorded_by="t",
            )
        )
    session.commit()
    policy = PolicyBook.load().scheme_policy(VILLAGE, "medical", 2020)
    items = list(
        subsidised_items(session, policy, county="410721", scheme="medical", period_year=2020)
    )
    assert [(item.group, item.gov_paid_fen) for item in items] == [("dibao", 10000)]
