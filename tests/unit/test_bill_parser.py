"""WeChat's daily bill text, parsed into fen, with its totals line checked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.recon.bill import BillError, parse, yuan_to_fen

HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
PAYMENT = (
    "`2024-01-05 10:00:00,`wxAPPID,`1900000001,`0,`,`4200000001202401050001,`SI20240105001,"
    "`oUSER,`JSAPI,`SUCCESS,`OTHERS,`CNY,`300.00,`0.00,`0,`0,`0.00,`0.00,`,`,`城乡居民医保,`,"
    "`1.80000,`0.60%,`300.00,`0.00,`"
)
REFUND = (
    "`2024-01-05 23:59:59,`wxAPPID,`1900000001,`0,`,`4200000002202401050002,`SI20240105002,"
    "`oUSER,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50000000012024010500,`RSI20240105002,"
    "`250.00,`0.00,`ORIGINAL,`SUCCESS,`城乡居民医保,`,`-1.50000,`0.60%,`0.00,`250.00,`"
)
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def bill(*rows: str, count=None, settled="300.00", refunded="0.00", newline="\r\n") -> str:
    summary = f"`{len(rows) if count is None else count},`{settled},`{refunded},`0.00,`1.80000,`300.00,`0.00"
    return newline.join([HEADER, *rows, SUMMARY_HEADER, summary]) + newline


def test_the_reference_example_reads_as_one_payment_in_fen():
    parsed = parse(bill(PAYMENT))
    rows = list(parsed.rows())
    assert len(rows) == 1
    row = rows[0]
    assert (row.out_trade_no, row.transaction_id, row.trade_state) == (
        "SI20240105001",
        "4200000001202401050001",
        "SUCCESS",
    )
    assert (row.settlement_fen, row.total_fen, row.refund_fen, row.refund_id) == (
        30000,
        30000,
        0,
        None,
    )
    assert row.fee_yuan == Decimal("1.80000")
    assert row.trade_time == datetime(2024, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 Beijing
    assert (parsed.summary.count, parsed.summary.settlement_fen) == (1, 30000)


def test_a_refund_row_counts_as_a_refund_not_a_payment():
    rows = list(parse(bill(PAYMENT, REFUND, refunded="250.00")).rows())
    refund = rows[1]
    assert refund.is_refund
    assert (refund.refund_fen, refund.out_refund_no, refund.refund_status) == (
        25000,
        "RSI20240105002",
        "SUCCESS",
    )
    assert refund.fee_yuan == Decimal("-1.50000")


def test_both_line_endings_read_the_same():
    crlf = list(parse(bill(PAYMENT, newline="\r\n")).rows())
    lf = list(parse(bill(PAYMENT, newline="\n")).rows())
    assert crlf == lf


def test_an_empty_day_has_no_rows():
    parsed = parse("")
    assert list(parsed.rows()) == []
    assert parsed.summary is None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (bill(PAYMENT, count=2), 4, "counts 2 records"),
        (bill(PAYMENT, settled="299.99"), 4, "settles 29999 fen"),
        (bill(PAYMENT.replace("`300.00,`0.00,`0,", "`3x0.00,`0.00,`0,")), 2, "not an amount"),
        (bill(PAYMENT.replace("`SUCCESS", "SUCCESS")), 2, "backtick"),
        (bill(PAYMENT.replace("`2024-01-05 10:00:00", "`2024/01/05")), 2, "交易时间"),
        (HEADER + "\r\n" + PAYMENT + "\r\n", 2, "without its summary"),
        (HEADER.replace("商户订单号", "订单号") + "\r\n", 1, "header lacks 商户订单号"),
    ],
)
def test_a_bill_that_does_not_add_up_names_the_line(text, line, words):
    with pytest.raises(BillError) as failed:
        list(parse(text).rows())
    assert failed.value.line == line
    assert words in str(failed.value)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_yuan_text_turns_into_exactly_the_same_fen(fen):
    sign = "-" if fen < 0 else ""
    text = f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
    assert yuan_to_fen(text, line=1, column="x") == fen


def test_a_fraction_of_a_fen_is_refused():
    with pytest.raises(BillError):
        yuan_to_fen("0.001", line=3, column="应结订单金额")
