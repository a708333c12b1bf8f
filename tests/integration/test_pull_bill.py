"""`pull_bill` and `flask pull-bill` against the fake WeChat platform over HTTP.

The fake is shared by the whole run, so today's bill may also hold other tests' trades: the
checks compare a pull before and after this test's own trades.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from backend.models import AuditEntry, WeChatBill
from backend.payments import gateway_from_config
from backend.payments.gateway import PaymentRequest, RefundRequest
from backend.payments.wechat.bill import PlainBill, parse_file
from backend.recon.pull import BillNotReady, BillTooOld, oldest_bill_day, pull_bill
from backend.values.beijing import beijing_today
from tests.support.pay_apis import BOTH_PAY_APIS

# Every test here pays through WeChat Pay API v2, then v3.
pytestmark = BOTH_PAY_APIS

CITY = "410700000000"  # a bill is the whole merchant account's: filed under the city

A_QUIET_DAY = date(2019, 9, 6)  # nobody paid anything at the fake then (the run starts in November)


@pytest.fixture
def bill_dir(app, tmp_path) -> Path:
    app.config["APP_CONFIG"].BILL_DIR = str(tmp_path / "bills")
    return tmp_path / "bills"


@pytest.fixture
def gateway(app):
    return gateway_from_config(app.config["APP_CONFIG"])


@pytest.fixture
def session(app):
    with app.extensions["db_sessions"]() as session:
        yield session


def paid_trade(gateway, fake_wechat, total_fen: int, now: datetime) -> str:
    number = "T" + uuid.uuid4().hex[:20]
    gateway.create(
        PaymentRequest(
            order_no=number,
            total_fen=total_fen,
            description="城乡居民医疗保险缴费",
            channel="wechat_miniprogram",
            client_ip="127.0.0.1",
            created_at=now,
            expires_at=now + timedelta(minutes=30),
            payer="oPAYER",
        )
    )
    paid = requests.post(
        f"{fake_wechat.url}/_control/pay", json={"out_trade_no": number, "notify": "missing"}
    )
    paid.raise_for_status()
    return number


def refunded(gateway, fake_wechat, number: str, total_fen: int, refund_fen: int) -> None:
    gateway.refund(RefundRequest(number, "R" + number, total_fen, refund_fen, "重复缴费退款"))
    settled = requests.post(
        f"{fake_wechat.url}/_control/refunds/settle", json={"out_refund_no": "R" + number}
    )
    settled.raise_for_status()


def figures(bill: WeChatBill) -> tuple[int, ...]:
    return (
        bill.row_count,
        bill.payment_count,
        bill.refund_count,
        bill.settlement_fen,
        bill.refund_fen,
    )


class BadBill:
    """A gateway that only downloads and reads bills (WeChat's format), and downloads one whose
    second record is broken."""

    TEXT = (
        "交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额\r\n"
        "`2019-11-05 10:00:00,`wx1,`1900000109,`4200001,`T1,`SUCCESS,`250.00\r\n"
        "`2019-11-05 10:05:00,`wx1,`1900000109,`4200002,`T2,`SUCCESS,`abc\r\n"
        "总交易单数,应结订单总金额,退款总金额\r\n"
        "`2,`500.00,`0.00\r\n"
    )

    def download_bill(self, day: date) -> str | None:
        return self.TEXT

    def read_bill(self, path: Path) -> PlainBill:
        return PlainBill(parse_file(path))


def test_a_day_is_pulled_stored_and_counted(
    app, session, uow, clock, gateway, fake_wechat, bill_dir
):
    now = clock.now()
    day = beijing_today(now)
    tomorrow = day + timedelta(days=1)

    def pull() -> WeChatBill:
        return pull_bill(
            uow,
            gateway,
            day,
            bill_dir=bill_dir,
            now=now,
            actor="test",
            region_code=CITY,
            today=tomorrow,
        )

    before = pull()
    assert before.status in ("ok", "empty")  # an empty record counts zeros
    base = figures(before)

    first = paid_trade(gateway, fake_wechat, 25000, now)
    paid_trade(gateway, fake_wechat, 12000, now)
    refunded(gateway, fake_wechat, first, 25000, 5000)

    bill = pull()
    assert bill.status == "ok", bill.error
    assert bill.error is None
    added = tuple(g - b for g, b in zip(figures(bill), base, strict=True))
    assert added == (3, 2, 1, 37000, 5000)
    assert bill.hash_changed is True

    path = bill_dir / f"{day:%Y%m%d}-ALL.txt"
    assert bill.path == str(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == bill.sha256
    assert b"\r\n" in path.read_bytes()  # stored as downloaded, line endings and all
    assert list(bill_dir.iterdir()) == [path]  # no temporary file left behind

    again = pull()
    assert again.hash_changed is False and again.sha256 == bill.sha256
    assert session.scalar(select(func.count()).select_from(WeChatBill)) == 1
    pulls = session.scalars(select(AuditEntry).where(AuditEntry.action == "bill.pull")).all()
    assert [(e.actor, e.target) for e in pulls] == [("test", day.isoformat())] * 3
    assert pulls[-1].detail["sha256"] == bill.sha256 and pulls[-1].detail["changed"] is False


def test_a_day_without_trades_is_empty(uow, clock, gateway, bill_dir):
    bill = pull_bill(
        uow,
        gateway,
        A_QUIET_DAY,
        bill_dir=bill_dir,
        now=clock.now(),
        actor="test",
        region_code=CITY,
    )
    assert (bill.status, bill.sha256, bill.path, bill.row_count) == ("empty", None, None, 0)
    assert bill.hash_changed is None
    assert not bill_dir.exists() or not any(bill_dir.iterdir())


def test_an_unreadable_bill_is_kept_and_marked_invalid(uow, clock, bill_dir):
    day = date(2019, 11, 5)
    bill = pull_bill(
        uow, BadBill(), day, bill_dir=bill_dir, now=clock.now(), actor="test", region_code=CITY
    )
    assert bill.status == "invalid"
    assert bill.error.startswith("line 3: 应结订单金额: 'abc' is not an amount")
    assert (bill.row_count, bill.settlement_fen) == (0, 0)
    kept = Path(bill.path)
    assert kept.read_bytes() == BadBill.TEXT.encode("utf-8")
    assert bill.sha256 == hashlib.sha256(kept.read_bytes()).hexdigest()


def test_today_and_later_are_refused(session, uow, clock, gateway, bill_dir):
    now = clock.now()
    for day in (beijing_today(now), beijing_today(now) + timedelta(days=3)):
        with pytest.raises(BillNotReady, match="微信在次日（北京时间）生成前一天的对账单"):
            pull_bill(uow, gateway, day, bill_dir=bill_dir, now=now, actor="test", region_code=CITY)
    assert session.scalar(select(func.count()).select_from(WeChatBill)) == 0


def test_days_older_than_the_three_months_wechat_keeps_are_refused(
    session, uow, clock, gateway, bill_dir
):
    now = clock.now()
    assert oldest_bill_day(beijing_today(now)) == date(2019, 8, 20)
    assert oldest_bill_day(date(2019, 5, 31)) == date(2019, 2, 28)
    for day in (date(2019, 8, 19), date(176, 5, 31)):
        with pytest.raises(
            BillTooOld, match="微信支付只保留近三个月的对账单（最早可下载 2019-08-20）"
        ):
            pull_bill(uow, gateway, day, bill_dir=bill_dir, now=now, actor="test", region_code=CITY)
    assert session.scalar(select(func.count()).select_from(WeChatBill)) == 0


def test_the_command_reports_each_outcome(app, clock, bill_dir):
    runner = app.test_cli_runner()

    empty = runner.invoke(args=["pull-bill", A_QUIET_DAY.isoformat()])
    assert (empty.exit_code, empty.output) == (0, "2019-09-06: empty (No Bill Exist)\n")

    future = (beijing_today(clock.now()) + timedelta(days=1)).isoformat()
    refused = runner.invoke(args=["pull-bill", future])
    assert refused.exit_code == 1
    assert "微信在次日（北京时间）生成前一天的对账单" in refused.output

    app.extensions["payment_gateway"] = BadBill()
    invalid = runner.invoke(args=["pull-bill", "2019-11-05"])
    assert invalid.exit_code == 1
    assert invalid.output.startswith("2019-11-05: invalid: line 3: 应结订单金额: 'abc'")

    class GoodBill(BadBill):
        def download_bill(self, day: date) -> str:
            return BadBill.TEXT.replace("`abc", "`2250.00").replace("`500.00", "`2500.00")

    app.extensions["payment_gateway"] = GoodBill()
    ok = runner.invoke(args=["pull-bill", "2019-11-05"])
    assert ok.exit_code == 0, ok.output
    digest = hashlib.sha256(GoodBill().download_bill(date(2019, 11, 5)).encode()).hexdigest()
    assert ok.output == (
        "2019-11-05: ok, 2 rows (2 payments, 0 refunds), 2,500.00 yuan settled, 0.00 refunded, "
        f"sha256 {digest[:12]}…, changed since the last pull\n"
    )
