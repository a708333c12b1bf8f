"""Daily settlement files: what reconciliation staff download per county and scheme."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import openpyxl
import pytest

from backend.models import OrderItem, PaymentOrder, Refund
from backend.values.beijing import BEIJING, beijing_today
from tests.support.builders import add_person, age_on_2019
from tests.support.regions import OTHER_VILLAGE
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import wait_until

URL = "/api/staff/v1/settlement"


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def today(clock) -> str:
    """Today in Beijing on the business clock, as the query writes it."""
    return beijing_today(clock.now()).isoformat()


def paid(http, live_server, wx, auth, refs):
    created = order(http, live_server, auth, refs).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, live_server, auth, created["order_no"]).json()["status"] == "paid"
    )
    return created


def test_a_day_of_payments_per_county_and_scheme_with_totals(
    session, http, live_server, fake_wechat, staff_token, app, today
):
    _, here = add_person(session, birth=age_on_2019(40), seq="011")
    _, there = add_person(session, birth=age_on_2019(35), seq="022", village=OTHER_VILLAGE)
    auth = sign_in(http, live_server, fake_wechat, "settler")
    household = paid(http, live_server, fake_wechat, auth, [(here[0].ref, 300), here[1].ref])
    paid(http, live_server, fake_wechat, auth, [there[1].ref])
    unpaid = order(http, live_server, auth, [there[0].ref]).json()  # created, never paid

    recon = {"Authorization": f"Bearer {staff_token('recon', '410700')}"}
    query = {"date": today, "county": "410721", "scheme": "medical"}
    answer = http.get(live_server + URL, params=query, headers=recon)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].endswith('.csv"')
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 1 + 3  # header, 新乡县's one medical payment, three total lines
    row = lines[1].split(",")
    assert row[0] == "支付" and row[2] == household["order_no"] and row[4] == ""
    assert row[9:11] == ["25000", "250.00"]
    assert [line.split(",")[:2] for line in lines[2:]] == [
        ["支付合计", "1 笔"],
        ["退款合计", "0 笔"],
        ["净额", "1 笔"],
    ]
    assert unpaid["order_no"] not in answer.text

    pension = http.get(
        live_server + URL, params={**query, "scheme": "pension", "format": "xlsx"}, headers=recon
    )
    sheet = openpyxl.load_workbook(io.BytesIO(pension.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][9:13] == (30000, "300.00", 2019, 300)
    assert values[-1][:2] == ("净额", "1 笔")

    other = http.get(live_server + URL, params={**query, "county": "410724"}, headers=recon)
    assert len(other.content.decode("utf-8-sig").splitlines()) == 5  # 获嘉县's own payment

    yesterday = date.fromisoformat(today) - timedelta(days=1)
    earlier = http.get(
        live_server + URL, params={**query, "date": yesterday.isoformat()}, headers=recon
    )
    assert earlier.content.decode("utf-8-sig").splitlines()[1].startswith("支付合计,0 笔")


def test_only_reconciliation_staff_of_the_region_download_it(
    session, http, live_server, staff_token, today
):
    query = {"date": today, "county": "410721", "scheme": "medical"}
    viewer = {"Authorization": f"Bearer {staff_token('viewer', '410700')}"}
    assert http.get(live_server + URL, params=query, headers=viewer).status_code == 403
    far = {"Authorization": f"Bearer {staff_token('recon', '410724', 'far-recon')}"}
    assert http.get(live_server + URL, params=query, headers=far).status_code == 404
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700', 'city-recon')}"}
    bad = http.get(live_server + URL, params={**query, "date": "2019-13-01"}, headers=recon)
    assert bad.status_code == 422


def test_flask_settle_writes_the_files_of_every_county_and_scheme_with_payments(
    session, http, live_server, fake_wechat, app, tmp_path, today
):
    _, regs = add_person(session, birth=age_on_2019(40))
    auth = sign_in(http, live_server, fake_wechat, "cli-settler")
    paid(http, live_server, fake_wechat, auth, [r.ref for r in regs])
    result = app.test_cli_runner().invoke(args=["settle", today, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    stamp = today.replace("-", "")
    assert names == [
        f"settlement-410721-{scheme}-{stamp}.{ext}"
        for scheme in ("medical", "pension")
        for ext in ("csv", "xlsx")
    ]
    assert (
        "410721 medical       1 rows  paid         250.00  refunded         0.00" in result.output
    )


# A day of refunds, built through the ORM on fixed Beijing times (the refund service is its own
# piece of work): 2019-11-05 and the day after.
DAY = date(2019, 11, 5)
NEXT_DAY = date(2019, 11, 6)


def beijing(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=BEIJING)


def taken_order(session, number, items, *, paid_at, status="paid", reason=None):
    """An order WeChat took money for; `items` are (registration, amount_fen, grade_yuan)."""
    placed = PaymentOrder(
        order_no=f"S{number:031d}",
        openid="o-settlement",
        idempotency_key=f"key-{number}",
        request_hash="0" * 64,
        trade_type="JSAPI",
        status=status,
        status_reason=reason,
        total_fen=sum(amount for _, amount, _ in items),
        paid_fen=sum(amount for _, amount, _ in items),
        description="城乡居民参保缴费",
        client_ip="127.0.0.1",
        expires_at=paid_at,
        transaction_id=f"4200{number:028d}",
        paid_at=paid_at,
    )
    session.add(placed)
    session.flush()
    for registration, amount, grade in items:
        session.add(
            OrderItem(
                order_id=placed.id,
                registration_id=registration.id,
                held_registration_id=None if reason else registration.id,
                scheme=registration.scheme,
                period_year=registration.period_year,
                grade_yuan=grade,
                amount_fen=amount,
            )
        )
    session.commit()
    return placed


def refund(session, placed, index, number, amount, *, status, at=None, reason="other"):
    session.add(
        Refund(
            refund_no=f"RF{number:030d}",
            order_id=placed.id,
            order_item_id=placed.items[index].id,
            amount_fen=amount,
            reason=reason,
            status=status,
            requested_by="recon-clerk",
            succeeded_at=at,
        )
    )
    session.commit()


@pytest.fixture
def refund_days(session):
    """新乡县: a household payment (pension 300 and medical) at 09:00, a duplicate payment of the
    medical registration at 10:00 refunded the next day, part of the pension refunded at 23:59:59,
    a refund still processing and a failed one; 获嘉县: a payment of the day before, refunded."""
    _, (pension, medical) = add_person(session, birth=age_on_2019(40), seq="011")
    _, (_, far) = add_person(session, birth=age_on_2019(35), seq="022", village=OTHER_VILLAGE)
    household = taken_order(
        session, 1, [(pension, 30000, 300), (medical, 25000, None)], paid_at=beijing(DAY, 9)
    )
    duplicate = taken_order(
        session,
        2,
        [(medical, 25000, None)],
        paid_at=beijing(DAY, 10),
        status="refunded",
        reason="duplicate_payment",
    )
    last_night = beijing(DAY, 0) - timedelta(seconds=1)
    before = taken_order(session, 3, [(far, 25000, None)], paid_at=last_night)
    late = beijing(DAY, 23, 59, 59)
    refund(session, household, 0, 1, 10000, status="succeeded", at=late, reason="wrong_grade")
    midnight = beijing(NEXT_DAY, 0)
    refund(
        session, duplicate, 0, 2, 25000, status="succeeded", at=midnight, reason="duplicate_payment"
    )
    refund(session, household, 1, 3, 25000, status="processing")
    refund(session, household, 1, 4, 25000, status="failed")
    refund(session, before, 0, 5, 25000, status="succeeded", at=beijing(DAY, 12))
    return household, duplicate, before


@pytest.fixture
def download(http, live_server, staff_token):
    """GET a settlement CSV as a city reconciliation clerk; its rows as lists of strings."""
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700')}"}

    def get(**params):
        query = {"county": "410721", **params}
        answer = http.get(live_server + URL, params=query, headers=recon)
        assert answer.status_code == 200, answer.text
        return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))

    return get


def test_refunds_and_duplicate_payments_join_the_day_with_payments_refunds_and_net(
    refund_days, download
):
    household, duplicate, _ = refund_days
    header, *lines = download(date=DAY, scheme="pension")
    assert header[:5] == [
        "类型",
        "支付或退款成功时间",
        "商户订单号",
        "微信支付订单号",
        "商户退款单号",
    ]
    assert header[9:11] == ["金额（分）", "金额（元）"] and header[14] == "渠道"
    payment, refunded, *total_lines = lines
    assert (payment[14], refunded[14]) == ("微信小程序", "微信小程序")
    assert payment[:5] == [
        "支付",
        "2019-11-05 09:00:00",
        household.order_no,
        household.transaction_id,
        "",
    ]
    assert payment[7] == "张*" and payment[8].startswith("410721********")
    assert payment[9:11] == ["30000", "300.00"]
    assert refunded[:5] == [
        "退款",
        "2019-11-05 23:59:59",
        household.order_no,
        household.transaction_id,
        f"RF{1:030d}",
    ]
    assert refunded[9:11] == ["-10000", "-100.00"] and refunded[13] == "缴费档次有误退款"
    assert [line[:2] + line[9:11] for line in total_lines] == [
        ["支付合计", "1 笔", "30000", "300.00"],
        ["退款合计", "1 笔", "-10000", "-100.00"],
        ["净额", "2 笔", "20000", "200.00"],
    ]

    # The duplicate payment WeChat took shows on its day, not credited; its refund on the next.
    _, *lines = download(date=DAY, scheme="medical")
    assert [(line[0], line[1], line[2], line[9]) for line in lines[:2]] == [
        ("支付", "2019-11-05 09:00:00", household.order_no, "25000"),
        ("重复支付", "2019-11-05 10:00:00", duplicate.order_no, "25000"),
    ]
    assert "未入账" in lines[1][13]
    assert [line[:2] + line[9:10] for line in lines[2:]] == [
        ["支付合计", "2 笔", "50000"],
        ["退款合计", "0 笔", "0"],
        ["净额", "2 笔", "50000"],
    ]
    _, *lines = download(date=NEXT_DAY, scheme="medical")
    assert [line[:5] + line[9:11] + line[13:] for line in lines] == [
        [
            "退款",
            "2019-11-06 00:00:00",
            duplicate.order_no,
            duplicate.transaction_id,
            f"RF{2:030d}",
            "-25000",
            "-250.00",
            "退还重复支付",
            "微信小程序",
        ],
        ["支付合计", "0 笔", "", "", "", "0", "0.00", "", ""],
        ["退款合计", "1 笔", "", "", "", "-25000", "-250.00", "", ""],
        ["净额", "1 笔", "", "", "", "-25000", "-250.00", "", ""],
    ]


def test_a_refund_lands_in_its_own_county_and_the_xlsx_carries_the_same_lines(
    refund_days, download, http, live_server, staff_token
):
    _, _, before = refund_days
    _, *lines = download(date=DAY, scheme="medical", county="410724")
    assert [line[:3] + line[9:10] for line in lines] == [
        ["退款", "2019-11-05 12:00:00", before.order_no, "-25000"],  # paid the day before
        ["支付合计", "0 笔", "", "0"],
        ["退款合计", "1 笔", "", "-25000"],
        ["净额", "1 笔", "", "-25000"],
    ]
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700', 'xlsx-recon')}"}
    query = {"date": DAY.isoformat(), "county": "410721", "scheme": "pension", "format": "xlsx"}
    answer = http.get(live_server + URL, params=query, headers=recon)
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert [v[0] for v in values[1:]] == ["支付", "退款", "支付合计", "退款合计", "净额"]
    assert [v[9] for v in values[1:]] == [30000, -10000, 30000, -10000, 20000]
    assert values[2][4] == f"RF{1:030d}" and values[1][4] is None  # empty for a payment


def test_flask_settle_writes_a_refund_only_day_with_its_totals(refund_days, app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["settle", NEXT_DAY.isoformat(), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "settlement-410721-medical-20191106.csv",
        "settlement-410721-medical-20191106.xlsx",
    ]
    line = "410721 medical       1 rows  paid           0.00  refunded       250.00  net        -250.00"
    assert line in result.output
