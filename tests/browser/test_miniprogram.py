"""The mini-program mock in a real browser: a resident's journey from the village QR code to the
receipt with its tax receipt number, a household paying in one order, and the mistakes people make."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.enrollees.lookup import NOT_REGISTERED as NOT_FOUND
from backend.models import PaymentOrder, Registration
from tests.browser.conftest import SKIP_REASON
from tests.support.builders import add_person, age_on_2019
from tests.support.people import make_id_number
from tests.support.regions import VILLAGE
from tests.support.resident import get_order, lookup, order, pay_jsapi, sign_in

if SKIP_REASON:
    pytest.skip(SKIP_REASON, allow_module_level=True)

from playwright.sync_api import expect  # only once the package is known to be there


@pytest.fixture
def session(app, backend):
    with app.extensions["db_sessions"]() as session:
        yield session


def deliver_ledger(app) -> None:
    """`flask worker --once`: sends the ledger messages; the fake bureau then confirms them."""
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output


def orders_in_db(session) -> list[PaymentOrder]:
    with Session(bind=session.get_bind()) as fresh:
        found = fresh.scalars(select(PaymentOrder)).all()
        for found_order in found:
            _ = found_order.items  # loaded while the session is open
        return list(found)


def open_find_page(phone, mock_server, village=VILLAGE):
    phone.goto(f"{mock_server.url}/?village={village}")
    expect(phone.locator("#village-name")).to_be_visible()
    phone.click("#start-find")
    expect(phone.locator("#id-number")).to_be_visible()


def look_up(phone, id_number, name):
    phone.fill("#id-number", id_number)
    phone.fill("#name", name)
    phone.click("#lookup")


def registration(phone, scheme):
    return phone.locator(f".registration[data-scheme={scheme}]")


def test_the_whole_journey_from_the_village_qr_code_to_the_receipt(
    phone, app, backend, mock_server, session
):
    person, _ = add_person(session, name="王秀英", birth=age_on_2019(45), seq="011")

    # The village poster's address: the API sends the phone on to the start page.
    phone.goto(f"{backend.url}/q/{VILLAGE}")
    expect(phone.locator("#village-name")).to_have_text("新乡县翟坡镇大召营村")
    assert phone.url.startswith(mock_server.url + "/")
    expect(phone.locator("#village-card")).to_contain_text("已按村里张贴的二维码选定")
    phone.shot("start")

    phone.click("#start-find")
    phone.fill("#id-number", person.id_number)
    phone.fill("#name", " 王秀英 ")
    phone.shot("find")
    phone.click("#lookup")

    # The registrations: amount, the subsidy line by line, the pension grade picker.
    expect(phone.locator("#person")).to_contain_text("王**")
    expect(phone.locator("#person")).to_contain_text("新乡县翟坡镇大召营村")
    pension, medical = registration(phone, "pension"), registration(phone, "medical")
    expect(pension).to_contain_text("城乡居民基本养老保险")
    expect(pension).to_contain_text("2019年度")
    expect(pension).to_contain_text("未缴费")
    expect(pension.get_by_test_id("payable")).to_have_text("¥200.00")
    expect(pension.locator(".kind-contribution_subsidy")).to_contain_text("+¥30.00")
    pension.locator("button.grade[data-grade='500']").click()
    expect(pension.get_by_test_id("payable")).to_have_text("¥500.00")
    expect(pension.locator(".kind-gross")).to_contain_text("缴费档次 500元")
    expect(pension.locator(".kind-contribution_subsidy")).to_contain_text("+¥60.00")
    pension.locator("[data-action=add]").click()
    expect(medical.get_by_test_id("payable")).to_have_text("¥250.00")
    expect(medical).to_contain_text("2020年度")
    medical.locator("[data-action=add]").click()
    expect(phone.locator("#basket-bar")).to_contain_text("¥750.00")
    expect(phone.locator("#toast")).to_be_hidden()  # "已加入待缴清单" has gone
    phone.shot("registrations")

    # The basket, then the order and WeChat's payment sheet.
    phone.click("#to-basket")
    expect(phone.locator("#basket-total")).to_have_text("¥750.00")
    expect(phone.locator("#basket")).to_contain_text("档次 500元")
    phone.shot("basket")
    # WeChat's notification comes a moment late this time, so the result page has to wait for it.
    phone.route(
        "**/wx/request-payment",
        lambda route: route.continue_(
            post_data=json.dumps(
                {**route.request.post_data_json, "notify": "late", "delay_seconds": 1.5}
            )
        ),
    )
    phone.click("#pay")
    sheet = phone.locator("#pay-sheet")
    expect(sheet).to_contain_text("750.00")
    expect(sheet).to_contain_text("王**")
    phone.shot("pay-sheet")
    sheet.locator("#confirm-pay").click()

    # The result page follows the order until it is paid.
    result = phone.locator("#result")
    expect(result).to_contain_text("支付处理中")
    phone.shot("result-waiting")
    expect(result).to_have_attribute("data-status", "paid")
    expect(result).to_contain_text("缴费成功")
    expect(result).to_contain_text("¥750.00")
    phone.shot("result")

    # The receipt: every item, then the tax receipt numbers once the bureau confirms.
    phone.click("#to-receipt")
    receipt = phone.locator("#receipt-items")
    expect(receipt).to_contain_text("等待税务入库确认")
    expect(receipt).to_contain_text("缴费档次500元")
    expect(phone.locator("#receipt")).to_contain_text("支付时间")
    (paid,) = orders_in_db(session)
    expect(phone.locator("#order-no")).to_have_text(paid.order_no)
    assert paid.total_fen == 75000 and paid.status == "paid"
    phone.shot("receipt-waiting")
    deliver_ledger(app)
    numbers = phone.get_by_test_id("tax-receipt-no")
    expect(numbers).to_have_count(2, timeout=15_000)
    for number in numbers.all_text_contents():
        assert re.fullmatch(r"\S{6,}", number), number
    expect(receipt).not_to_contain_text("等待税务入库确认")
    phone.shot("receipt")

    # My payments: the order, newest first, leading back to the receipt.
    phone.goto(f"{mock_server.url}/#/mine")
    card = phone.locator(f"[data-order='{paid.order_no}']")
    expect(card).to_contain_text("缴费成功")
    expect(card).to_contain_text("¥750.00")
    phone.shot("my-payments")
    card.click()
    expect(phone.get_by_test_id("tax-receipt-no")).to_have_count(2)


def test_a_household_pays_for_two_people_in_one_order(phone, backend, mock_server, session):
    father, _ = add_person(session, name="李建国", birth=age_on_2019(52), seq="021")
    daughter, _ = add_person(session, name="李婷", birth=age_on_2019(22), seq="022")

    # Opened without a QR code: the village is picked.
    phone.goto(mock_server.url + "/")
    phone.select_option("#pick-county", label="新乡县")
    phone.select_option("#pick-township", label="翟坡镇")
    phone.select_option("#pick-village", label="小召营村")
    expect(phone.locator("#village-name")).to_have_text("新乡县翟坡镇小召营村")
    phone.shot("start-picked")
    phone.click("#start-find")

    look_up(phone, father.id_number, "李建国")
    # Registered in another village of the township than the one picked: said, not refused.
    expect(phone.locator("#person")).to_contain_text("与您选择的村不同")
    registration(phone, "pension").locator("[data-action=add]").click()
    registration(phone, "medical").locator("[data-action=add]").click()
    phone.click("#find-another")
    expect(phone.locator("#lookup-result")).to_be_empty()
    look_up(phone, daughter.id_number, "李婷")
    expect(phone.locator("#person")).to_contain_text("李*")
    registration(phone, "medical").locator("[data-action=add]").click()
    registration(phone, "pension").locator("button.grade[data-grade='300']").click()
    registration(phone, "pension").locator("[data-action=add]").click()
    phone.click("#to-basket")
    expect(phone.locator("#basket")).to_contain_text("2 人，4 项")
    expect(phone.locator("#basket-total")).to_have_text("¥1,000.00")
    # Taking an item out.
    phone.locator("#basket .item", has_text="养老保险").filter(has_text="档次 300元").locator(
        "[data-action=remove]"
    ).click()
    expect(phone.locator("#basket")).to_contain_text("2 人，3 项")
    expect(phone.locator("#basket-total")).to_have_text("¥700.00")
    phone.shot("basket")

    # Backing out of the payment sheet keeps the order open; paying it later works.
    phone.click("#pay")
    phone.locator("#cancel-pay").click()
    result = phone.locator("#result")
    expect(result).to_contain_text("待支付")
    expect(result).to_contain_text("您已取消支付")
    expect(phone.locator("#pay-sheet")).to_have_count(0)
    phone.shot("result-unpaid")
    phone.click("#pay-now")
    both = f"李**（尾号{father.id_number[-4:]}）、李*（尾号{daughter.id_number[-4:]}）"
    expect(phone.locator("#pay-sheet")).to_contain_text(both)
    phone.locator("#confirm-pay").click()
    expect(result).to_contain_text("缴费成功")
    expect(result).to_contain_text("共 3 项")

    (paid,) = orders_in_db(session)
    assert paid.status == "paid" and paid.total_fen == 70000
    with Session(bind=session.get_bind()) as fresh:
        owners = fresh.scalars(
            select(Registration.enrollee_id).where(
                Registration.id.in_([i.registration_id for i in paid.items])
            )
        ).all()
    assert set(owners) == {father.id, daughter.id}

    phone.click("#to-receipt")
    expect(phone.locator("#receipt")).to_contain_text(both)
    expect(phone.locator("#receipt-items .receipt-item")).to_have_count(3)
    phone.shot("receipt")

    # Back on the father's page, his items show paid now.
    phone.goto(f"{mock_server.url}/#/find")
    look_up(phone, father.id_number, "李建国")
    expect(registration(phone, "pension")).to_contain_text("已缴费")
    expect(phone.locator("[data-action=add]")).to_have_count(0)


def test_a_wrong_name_gets_the_servers_message(phone, app, backend, mock_server, session):
    seq = next(s for s in range(100, 200) if make_id_number(seq=f"{s:03d}").endswith("X"))
    person, _ = add_person(session, name="赵丽", seq=f"{seq:03d}")
    assert person.id_number.endswith("X")
    open_find_page(phone, mock_server)

    look_up(phone, person.id_number, "赵莉")
    outcome = phone.locator("#lookup-result")
    expect(outcome).to_contain_text("没有找到参保人")
    expect(outcome).to_contain_text(NOT_FOUND)
    phone.shot("not-found")

    # An expired session is renewed without the person noticing (wx.login again on a 401).
    phone.evaluate(
        "localStorage.setItem('mp.token', JSON.stringify({token: 'expired', expires_at: Date.now() + 3600e3}))"
    )
    logins = []
    phone.on("request", lambda r: logins.append(r.url) if r.url.endswith("/wx/login") else None)
    # Typed as on a phone: a lower-case x and spaces.
    number = person.id_number
    look_up(phone, f"{number[:6]} {number[6:14]} {number[14:17]}x", "赵丽")
    expect(phone.locator("#person")).to_contain_text("赵*")
    assert len(logins) == 1

    # Too many lookups: said in plain words.
    app.config["LOOKUP_LIMIT_PER_OPENID"] = "1 per minute"
    phone.click("#find-another")
    look_up(phone, number, "赵丽")
    expect(phone.locator("#person")).to_be_visible()
    phone.click("#find-another")
    look_up(phone, number, "赵丽")
    expect(phone.locator("#lookup-result")).to_contain_text("操作太频繁")
    expect(phone.locator("#lookup-result")).to_contain_text("秒后再试")
    phone.shot("too-many")


MALFORMED = [
    # (ID number as typed, name as typed, the message expected, the field it is shown under)
    ("41072119800101001", "张三", "身份证号应为18位，您输入了17位", "#id-number-error"),
    ("4107211980010100123", "张三", "身份证号应为18位，您输入了19位", "#id-number-error"),
    ("41072119800101001A", "张三", "只能由数字和末位的X组成", "#id-number-error"),
    ("4107211980010X0011", "张三", "只有最后一位可以是X", "#id-number-error"),
    ("410721198002300011", "张三", "出生日期（第7至14位）不正确", "#id-number-error"),
    ("410721209901010011", "张三", "出生日期晚于今天", "#id-number-error"),
    (make_id_number(seq="001")[:17] + "9", "张三", "校验位（最后一位）不正确", "#id-number-error"),
    ("", "张三", "请输入身份证号", "#id-number-error"),
    (make_id_number(seq="001"), "", "请输入姓名", "#name-error"),
    (make_id_number(seq="001"), "张", "姓名至少2个字", "#name-error"),
    (make_id_number(seq="001"), "Zhang San", "姓名只能填写汉字", "#name-error"),
    (make_id_number(seq="001"), "<script>alert(1)</script>", "姓名只能填写汉字", "#name-error"),
    (make_id_number(seq="001"), "张三😀", "姓名只能填写汉字", "#name-error"),
    (make_id_number(seq="001"), "·阿依古丽", "“·”的位置不正确", "#name-error"),
    (make_id_number(seq="001"), "张" * 21, "姓名最多20个字", "#name-error"),
]


def test_malformed_input_is_caught_on_the_phone_before_anything_is_sent(
    phone, backend, mock_server
):
    open_find_page(phone, mock_server)
    sent = []
    phone.on("request", lambda r: sent.append(r.url) if "/lookup" in r.url else None)
    for number, name, message, where in MALFORMED:
        phone.fill("#id-number", number)
        phone.fill("#name", name)
        phone.click("#lookup")
        expect(phone.locator(where)).to_contain_text(message)
        if "校验位" in message:
            phone.shot("bad-check-character")
        if "Zhang" in name:
            phone.shot("bad-name")
    assert sent == []
    # Full-width digits (a Chinese keyboard's) are taken as digits.
    number = make_id_number(seq="001")
    phone.fill("#id-number", number.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}))
    phone.fill("#name", "张三")
    phone.click("#lookup")
    expect(phone.locator("#lookup-result")).to_contain_text("没有找到参保人")  # nobody seeded
    assert len(sent) == 1
    expect(phone.locator("#id-number")).to_have_value(number)


def test_an_already_paid_person_is_shown_paid_and_cannot_be_added(
    phone, backend, mock_server, session, fake_wechat
):
    paid_person, _ = add_person(session, name="陈静", seq="031")
    busy_person, _ = add_person(session, name="陈刚", seq="032")
    with requests.Session() as http:
        # A neighbour paid for her on their own phone; his order waits for payment.
        auth = sign_in(http, backend.url, fake_wechat, "neighbour")
        refs = [
            r["ref"]
            for r in lookup(http, backend.url, auth, paid_person.id_number, "陈静").json()[
                "registrations"
            ]
        ]
        created = order(http, backend.url, auth, refs).json()
        pay_jsapi(http, fake_wechat, created["pay"])
        deadline = time.monotonic() + 10
        while get_order(http, backend.url, auth, created["order_no"]).json()["status"] != "paid":
            assert time.monotonic() < deadline, "the payment was not credited"
            time.sleep(0.05)
        busy = lookup(http, backend.url, auth, busy_person.id_number, "陈刚").json()
        medical = [r["ref"] for r in busy["registrations"] if r["scheme"] == "medical"]
        assert order(http, backend.url, auth, medical).status_code == 201

    open_find_page(phone, mock_server)
    look_up(phone, paid_person.id_number, "陈静")
    for scheme in ("pension", "medical"):
        expect(registration(phone, scheme)).to_contain_text("已缴费")
        expect(registration(phone, scheme)).to_contain_text("本年度已缴费，无需重复缴纳")
    expect(phone.locator("[data-action=add]")).to_have_count(0)
    expect(phone.locator("body")).to_contain_text("该参保人本年度没有需要缴费的项目")
    phone.shot("already-paid")

    phone.click("#find-another")
    look_up(phone, busy_person.id_number, "陈刚")
    expect(registration(phone, "medical")).to_contain_text("支付中")
    expect(registration(phone, "medical").locator("[data-action=add]")).to_have_count(0)
    expect(registration(phone, "pension").locator("[data-action=add]")).to_have_count(1)
    phone.shot("pending")


def test_government_paid_shares_are_shown_and_not_charged(phone, backend, mock_server, session):
    person, _ = add_person(session, name="周红梅", seq="041", groups=("poverty",))
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "周红梅")
    medical, pension = registration(phone, "medical"), registration(phone, "pension")
    expect(medical).to_contain_text("政府代缴")
    expect(medical).to_contain_text("由政府全额代缴，个人无需缴费")
    expect(medical.locator("[data-action=add]")).to_have_count(0)
    # Pension: the 100-yuan grade costs them nothing (nothing to pay here); above it, the difference.
    expect(pension.locator("button.grade[data-grade='100']")).to_be_disabled()
    expect(pension).to_contain_text("100元档由政府全额代缴")
    expect(pension.get_by_test_id("payable")).to_have_text("¥100.00")
    expect(pension.locator(".kind-gov_paid")).to_contain_text("−¥100.00")
    pension.locator("button.grade[data-grade='500']").click()
    expect(pension.get_by_test_id("payable")).to_have_text("¥400.00")
    expect(pension.locator("[data-action=add]")).to_have_count(1)
    phone.shot("government-pays")


def test_an_unknown_village_code_asks_for_the_village(phone, backend, mock_server):
    phone.goto(f"{mock_server.url}/?village=410721999999")
    expect(phone.locator(".alert-warn")).to_contain_text("不在村名单中")
    expect(phone.locator("#pick-county")).to_be_enabled()
    expect(phone.locator("#start-find")).to_be_disabled()
    phone.click("#start-find", force=True)
    expect(phone.locator("#village-error")).to_have_text("请先选择您所在的村（社区）")
    phone.shot("unknown-village")


def test_lost_order_answer_is_retried_with_the_same_key(phone, backend, mock_server, session):
    person, _ = add_person(session, name="孙志强", seq="051")
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "孙志强")
    registration(phone, "medical").locator("[data-action=add]").click()
    phone.click("#to-basket")

    keys = []

    def lose_the_first_answer(route):
        keys.append(route.request.headers["idempotency-key"])
        answer = route.fetch()  # the server creates the order...
        if len(keys) == 1:
            route.abort("connectionreset")  # ...but the phone never hears back
        else:
            route.fulfill(response=answer)

    phone.route("**/api/mp/v1/orders", lose_the_first_answer)
    phone.tolerate.append("net::ERR_CONNECTION_RESET")
    phone.click("#pay")
    expect(phone.locator("#order-result")).to_contain_text("不会重复下单或扣款")
    phone.shot("answer-lost")
    phone.click("#pay")
    expect(phone.locator("#pay-sheet")).to_contain_text("250.00")
    assert len(keys) == 2 and keys[0] == keys[1]
    (created,) = orders_in_db(session)  # the same order both times
    assert created.status == "created" and created.total_fen == 25000


# What the 2019 policy's collection window says, as the phone writes it.
PAY_UNTIL = "可缴费至 2019年12月31日"
WINDOW_CLOSED = "缴费期为2019年9月1日至2019年12月31日，已经结束"
LATE_PAYMENT = {
    "pension": "逾期补缴请联系参保地社保经办机构",
    "medical": "逾期补缴请联系参保地医保经办机构",
}


def test_each_registration_says_until_when_it_can_be_paid(phone, backend, mock_server, session):
    person, _ = add_person(session, name="郭玉兰", birth=age_on_2019(38), seq="061")
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "郭玉兰")

    # Inside the window, after the pension's campaign target: the target is shown as a target,
    # and payment stays open until the window closes.
    pension, medical = registration(phone, "pension"), registration(phone, "medical")
    expect(pension.get_by_test_id("pay-until")).to_have_text(PAY_UNTIL)
    expect(medical.get_by_test_id("pay-until")).to_have_text(PAY_UNTIL)
    expect(pension).to_contain_text("集中征缴目标：2019年10月31日前")
    expect(medical).to_contain_text("集中征缴目标：2019年11月30日前")
    expect(phone.locator("#view")).not_to_contain_text("截止")
    expect(phone.get_by_test_id("not-payable")).to_have_count(0)
    expect(pension.locator("[data-action=add]")).to_be_visible()
    expect(medical.locator("[data-action=add]")).to_be_visible()
    phone.shot("payable")


def test_after_the_window_closes_the_page_says_why_and_offers_no_way_to_pay(
    phone, backend, mock_server, session, clock
):
    person, _ = add_person(session, name="韩志刚", birth=age_on_2019(44), seq="071")
    clock.advance(timedelta(days=50))  # 9 January 2020: the 2019 collection is over
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "韩志刚")

    for scheme in ("pension", "medical"):
        card = registration(phone, scheme)
        expect(card).to_contain_text("未缴费")
        reason = card.get_by_test_id("not-payable")
        expect(reason).to_contain_text("现在不能缴费")
        expect(reason).to_contain_text(WINDOW_CLOSED)
        expect(reason).to_contain_text(LATE_PAYMENT[scheme])
        expect(card.get_by_test_id("pay-until")).to_have_count(0)
        expect(card.locator("button.grade")).to_have_count(0)
    expect(registration(phone, "pension")).to_contain_text("2019年度养老保险")
    expect(registration(phone, "medical")).to_contain_text("2020年度医疗保险")
    expect(phone.locator("[data-action=add]")).to_have_count(0)
    expect(phone.locator("#basket-bar")).to_have_count(0)
    # Not "nothing to pay": they still owe it, just not here and not now.
    expect(phone.locator("#view")).not_to_contain_text("无需缴费")
    phone.shot("window-closed")


def test_an_order_made_after_the_window_closes_gets_the_servers_message(
    phone, backend, mock_server, session, clock
):
    person, _ = add_person(session, name="冯淑芬", birth=age_on_2019(50), seq="081")
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "冯淑芬")
    registration(phone, "medical").locator("[data-action=add]").click()
    expect(phone.locator("#basket-bar")).to_contain_text("¥250.00")
    phone.click("#to-basket")
    expect(phone.locator("#basket-total")).to_have_text("¥250.00")

    # The basket waited on the phone over new year; the server refuses the order and says why.
    clock.advance(timedelta(days=50))
    phone.click("#pay")
    outcome = phone.locator("#order-result")
    expect(outcome).to_contain_text("订单没有提交成功")
    expect(outcome).to_contain_text("2020年度医疗保险的" + WINDOW_CLOSED)
    expect(outcome).to_contain_text(LATE_PAYMENT["medical"])
    expect(outcome).to_contain_text("请把它移出清单")
    expect(phone.locator("#pay-sheet")).to_have_count(0)
    phone.shot("refused")
    assert orders_in_db(session) == []

    # Looked up again, the item says why and can be taken out of the basket.
    phone.click("#find-another")
    look_up(phone, person.id_number, "冯淑芬")
    medical = registration(phone, "medical")
    expect(medical.get_by_test_id("not-payable")).to_contain_text(WINDOW_CLOSED)
    expect(phone.locator("[data-action=add]")).to_have_count(0)
    expect(medical).to_contain_text("该项目仍在待缴清单中")
    phone.shot("still-in-basket")
    medical.locator("[data-action=remove]").click()
    expect(phone.locator("#basket-bar")).to_have_count(0)
    expect(medical.locator("[data-action=remove]")).to_have_count(0)
    phone.shot("looked-up-again")


def test_a_payer_cancels_an_unpaid_order_and_pays_the_item_again(
    phone, backend, mock_server, session
):
    person, _ = add_person(session, name="孙桂兰", birth=age_on_2019(50), seq="071")
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "孙桂兰")
    registration(phone, "pension").locator("[data-action=add]").click()
    phone.click("#to-basket")
    expect(phone.locator("#basket-total")).to_have_text("¥200.00")

    # Ordered, then the payer backs out of WeChat's sheet and cancels the order.
    phone.click("#pay")
    phone.locator("#cancel-pay").click()
    result = phone.locator("#result")
    expect(result).to_contain_text("待支付")
    (made,) = orders_in_db(session)
    cancel = result.locator("[data-action=cancel-order]")
    cancel.click()
    dialog = phone.locator("#cancel-dialog")
    expect(dialog).to_contain_text("确定取消这笔订单吗")
    expect(dialog).to_contain_text("¥200.00")
    phone.shot("cancel-confirm")
    phone.locator("#keep-order").click()  # second thoughts: nothing happens
    expect(dialog).to_have_count(0)
    expect(result).to_have_attribute("data-status", "created")
    cancel.click()
    phone.locator("#confirm-cancel").click()
    expect(result).to_have_attribute("data-status", "closed")
    expect(result).to_contain_text("订单已取消")
    expect(result).to_contain_text("没有扣款")
    expect(phone.locator("#toast")).to_be_hidden()
    phone.shot("order-cancelled")
    (closed,) = orders_in_db(session)
    assert (closed.order_no, closed.status, closed.status_reason) == (
        made.order_no,
        "closed",
        "cancelled",
    )

    # The item is back in the basket and payable again, at once; the person's page agrees.
    phone.click("#back-to-basket")
    expect(phone.locator("#basket-total")).to_have_text("¥200.00")
    phone.goto(f"{mock_server.url}/#/find")
    expect(phone.locator("#family")).to_contain_text(f"孙**（尾号{person.id_number[-4:]}）")
    expect(phone.locator("#family")).to_contain_text("不能按户号查询")
    phone.shot("family")
    phone.locator("#family [data-person]").first.click()
    expect(registration(phone, "pension")).to_contain_text("未缴费")
    expect(registration(phone, "pension")).to_contain_text("已加入待缴清单")
    phone.shot("payable-again")
    phone.click("#to-basket")
    phone.click("#pay")
    phone.locator("#confirm-pay").click()
    expect(result).to_contain_text("缴费成功")
    paid = [o for o in orders_in_db(session) if o.status == "paid"]
    assert len(paid) == 1 and paid[0].order_no != made.order_no


def test_an_unpaid_order_is_cancelled_from_my_payments(phone, backend, mock_server, session):
    person, _ = add_person(session, name="周永福", birth=age_on_2019(55), seq="072")
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "周永福")
    registration(phone, "medical").locator("[data-action=add]").click()
    phone.click("#to-basket")
    phone.click("#pay")
    phone.locator("#cancel-pay").click()
    expect(phone.locator("#result")).to_contain_text("待支付")
    (made,) = orders_in_db(session)

    phone.goto(f"{mock_server.url}/#/mine")
    card = phone.locator(f".order-card[data-order='{made.order_no}']")
    expect(card).to_contain_text("待支付")
    phone.locator(f"[data-action=cancel-order][data-order='{made.order_no}']").click()
    phone.locator("#confirm-cancel").click()
    expect(card).to_contain_text("已取消")
    expect(phone.locator("[data-action=cancel-order]")).to_have_count(0)
    phone.shot("my-payments-cancelled")
    phone.goto(f"{mock_server.url}/#/basket")
    expect(phone.locator("#basket-total")).to_have_text("¥250.00")


def test_after_paying_the_payer_subscribes_once_and_hears_of_the_tax_receipt(
    phone, app, backend, mock_server, session, fake_wechat
):
    person, _ = add_person(session, name="郑丽华", birth=age_on_2019(36), seq="091")
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "郑丽华")
    registration(phone, "medical").locator("[data-action=add]").click()
    phone.click("#to-basket")
    phone.click("#pay")
    phone.locator("#pay-sheet #confirm-pay").click()
    expect(phone.locator("#result")).to_have_attribute("data-status", "paid")

    # Once paid, the one-time prompt: the three notices, accepted in WeChat's sheet.
    prompt = phone.locator("#subscribe-prompt")
    expect(prompt).to_contain_text("订阅缴费结果通知")
    expect(prompt).to_contain_text("缴费入库通知")
    phone.shot("subscribe-prompt")
    with phone.expect_response("**/api/mp/v1/subscriptions") as reported:
        prompt.locator("#subscribe-accept").click()
    assert reported.value.status == 200
    expect(prompt).to_have_count(0)
    left = {t["kind"]: t["remaining"] for t in reported.value.json()["templates"]}
    assert left == {"tax_receipt": 1, "refund": 1, "deadline": 1}

    # Asked once: the result page shown again does not ask again.
    phone.reload()
    expect(phone.locator("#result")).to_have_attribute("data-status", "paid")
    phone.wait_for_timeout(500)
    expect(phone.locator("#subscribe-prompt")).to_have_count(0)

    # The bureau confirms the treasury entry; the worker sends the message to the phone's user.
    deliver_ledger(app)
    phone.click("#to-receipt")
    expect(phone.get_by_test_id("tax-receipt-no")).to_have_count(1, timeout=15_000)
    receipt_no = phone.get_by_test_id("tax-receipt-no").text_content()
    deliver_ledger(app)  # the messages job sends it
    openid = phone.evaluate(
        "fetch('/wx/login', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({user: JSON.parse(localStorage.getItem('mp.user'))})})"
        ".then(r => r.json()).then(b => b.openid)"
    )
    received = requests.get(
        f"{fake_wechat.url}/_control/subscribe-messages", params={"openid": openid}, timeout=5
    ).json()["messages"]
    assert len(received) == 1
    assert received[0]["data"]["character_string3"]["value"] == receipt_no
    assert received[0]["data"]["thing1"]["value"] == "郑**"
    phone.shot("receipt-told")


def test_a_paid_item_opens_its_receipt_that_anyone_can_check_by_its_qr_code(
    phone, app, backend, mock_server, session
):
    person, _ = add_person(session, name="赵桂兰", birth=age_on_2019(50), seq="091")
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "赵桂兰")
    registration(phone, "pension").locator("[data-action=add]").click()
    phone.click("#to-basket")
    phone.click("#pay")
    phone.locator("#pay-sheet #confirm-pay").click()
    expect(phone.locator("#result")).to_have_attribute("data-status", "paid")
    phone.click("#to-receipt")

    # Each paid item offers its receipt; once the bureau confirms, with the tax receipt number.
    deliver_ledger(app)
    expect(phone.get_by_test_id("tax-receipt-no")).to_have_count(1, timeout=15_000)
    number = phone.get_by_test_id("tax-receipt-no").text_content()
    link = phone.get_by_test_id("receipt-link")
    expect(link).to_have_text("查看缴费凭证")
    href = link.get_attribute("href")
    assert href.startswith(backend.url + "/r/")  # PUBLIC_BASE_URL: what the QR code carries
    phone.shot("receipt-with-link")

    # The receipt page on the server: what a village cadre sees scanning the QR code.
    link.click()
    expect(phone.locator("h1")).to_have_text("✓ 有效")
    page = phone.locator("main")
    expect(page).to_contain_text("赵**")
    expect(page).to_contain_text("城乡居民基本养老保险")
    expect(page).to_contain_text("200.00 元")
    expect(page).to_contain_text(number)
    expect(page.locator(".qr svg")).to_be_visible()
    assert phone.url == href
    phone.shot("receipt-verified")

    # A changed character: the same address no longer vouches for anything.
    tampered = href[:-6] + ("A" if href[-6] != "A" else "B") + href[-5:]
    phone.goto(tampered)
    expect(phone.locator("body")).to_contain_text("无法验证：此凭证不是本系统签发的或已被篡改")
    phone.shot("receipt-forged")


@pytest.mark.parametrize("pay_api", ["v3"], indirect=True)
def test_a_resident_pays_through_wechat_pay_api_v3(
    phone, backend, mock_server, session, fake_wechat
):
    person, _ = add_person(session, name="孙秀英", birth=age_on_2019(45), seq="101")
    open_find_page(phone, mock_server)
    look_up(phone, person.id_number, "孙秀英")
    registration(phone, "medical").locator("[data-action=add]").click()
    phone.click("#to-basket")
    phone.click("#pay")
    phone.locator("#pay-sheet #confirm-pay").click()
    result = phone.locator("#result")
    expect(result).to_have_attribute("data-status", "paid")
    expect(result).to_contain_text("缴费成功")
    phone.shot("paid-through-v3")

    (paid,) = orders_in_db(session)
    assert paid.status == "paid" and paid.transaction_id
    # The phone paid with an RSA paySign, and the platform told us in v3 JSON at the v3 address.
    trade = requests.get(f"{fake_wechat.url}/_control/trades/{paid.order_no}", timeout=5).json()
    assert trade["sign_type"] == "RSA"
    assert trade["notify_url"].endswith("/api/payments/wechat/v3/notify")
    assert any(a["acknowledged"] for a in trade["notify_attempts"])
    phone.click("#to-receipt")
    expect(phone.locator("#receipt-items .receipt-item")).to_have_count(1)
