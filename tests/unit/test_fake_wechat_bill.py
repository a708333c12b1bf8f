"""The fake's downloadbill text: layout, day selection, rounding and totals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fakes.wechat import beijing, bill
from fakes.wechat.trades import Refund, Trade

DAY1 = datetime(2024, 1, 5, 10, 0, tzinfo=beijing.BEIJING).timestamp()
DAY2 = datetime(2024, 1, 6, 0, 30, tzinfo=beijing.BEIJING).timestamp()


def paid_trade(out_trade_no: str, fen: int, paid_at: float, refunds=()) -> Trade:
    return Trade(
        realm="live",
        mch_id="1900000001",
        appid="wxAPPID",
        out_trade_no=out_trade_no,
        trade_type="JSAPI",
        body="城乡居民医保",
        total_fee=fen,
        notify_url="http://merchant/notify",
        spbill_create_ip="127.0.0.1",
        sign_type="MD5",
        created_at=paid_at - 60,
        expires_at=paid_at + 3600,
        prepay_id="wx1",
        prepay_at=paid_at - 60,
        openid="oUSER",
        state="SUCCESS",
        transaction_id="4200000001202401050001" + out_trade_no[-6:],
        paid_at=paid_at,
        refunds=list(refunds),
    )


def settled(out_refund_no: str, fen: int, at: float) -> Refund:
    return Refund(out_refund_no, "503" + out_refund_no, fen, at - 5, "SUCCESS", at)


def parse(text: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    lines = text.split("\r\n")
    assert lines[-1] == ""  # every line, the last one too, ends in CRLF
    header, *rows, summary_header, summary = lines[:-1]
    names = header.split(",")
    for line in [*rows, summary]:
        assert all(v.startswith("`") for v in line.split(","))
    records = [dict(zip(names, (v[1:] for v in r.split(",")), strict=True)) for r in rows]
    totals = dict(zip(summary_header.split(","), (v[1:] for v in summary.split(",")), strict=True))
    return records, totals


def test_the_illustrative_bill_of_the_brief_is_reproduced():
    text = bill.render("ALL", "20240105", [paid_trade("SI20240105001", 30000, DAY1)])
    assert text is not None
    assert text.split("\r\n")[1] == (
        "`2024-01-05 10:00:00,`wxAPPID,`1900000001,`0,`,`4200000001202401050001105001,"
        "`SI20240105001,`oUSER,`JSAPI,`SUCCESS,`OTHERS,`CNY,`300.00,`0.00,`0,`0,`0.00,`0.00,`,`,"
        "`城乡居民医保,`,`1.80000,`0.60%,`300.00,`0.00,`"
    )
    assert text.endswith(
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"
        "`1,`300.00,`0.00,`0.00,`1.80000,`300.00,`0.00\r\n"
    )


def test_a_refund_lands_on_the_day_it_succeeded_with_the_payment_time():
    trade = paid_trade("SI20240105002", 1000, DAY1, [settled("R1", 300, DAY2)])
    day1, totals1 = parse(bill.render("ALL", "20240105", [trade]))
    day2, totals2 = parse(bill.render("ALL", "20240106", [trade]))
    assert [r["交易状态"] for r in day1] == ["SUCCESS"]
    assert [r["交易状态"] for r in day2] == ["REFUND"]
    refund_row = day2[0]
    assert refund_row["交易时间"] == "2024-01-05 10:00:00"
    assert refund_row["商户退款单号"] == "R1"
    assert refund_row["退款金额"] == "3.00"
    assert refund_row["手续费"] == "-0.02000"  # 0.018 rounds to the fen
    assert totals1["应结订单总金额"] == "10.00"
    assert totals2 == {
        "总交易单数": "1",
        "应结订单总金额": "0.00",
        "退款总金额": "3.00",
        "充值券退款总金额": "0.00",
        "手续费总金额": "-0.02000",
        "订单总金额": "0.00",
        "申请退款总金额": "3.00",
    }


def test_each_bill_type_has_its_own_columns_and_records():
    trade = paid_trade("SI20240105003", 1, DAY1, [settled("R2", 1, DAY1)])
    success, _ = parse(bill.render("SUCCESS", "20240105", [trade]))
    refund, _ = parse(bill.render("REFUND", "20240105", [trade]))
    everything, totals = parse(bill.render("ALL", "20240105", [trade]))
    assert [len(r) for r in (success[0], refund[0], everything[0])] == [20, 29, 27]
    assert len(everything) == 2
    assert refund[0]["退款成功时间"] == "2024-01-05 10:00:00"
    assert everything[1]["手续费"] == "0.00000"  # a fee rounded to nothing is not negative
    assert Decimal(totals["手续费总金额"]) == Decimal(0)


def test_a_day_without_records_has_no_bill():
    trade = paid_trade("SI20240105004", 100, DAY1)
    assert bill.render("ALL", "20240104", [trade]) is None
    assert bill.render("REFUND", "20240105", [trade]) is None
    assert bill.render("RECHARGE_REFUND", "20240105", [trade]) is None
