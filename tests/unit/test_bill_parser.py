"""WeChat's daily bill text, parsed into fen, with its totals line checked."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.payments.wechat import bill as bill_module
from backend.payments.wechat.bill import BillError, parse, parse_file, yuan_to_fen

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


# The rules one line at a time (how the bill was read before it was read column-wise): the
# column-wise reading must give the same rows, the same summary, or the same first error.
def line_by_line(text: str):
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()
    numbered = iter(enumerate(lines, start=1))
    for number, line in numbered:
        if line.lstrip("\ufeff").strip():
            positions = bill_module._positions(number, line.lstrip("\ufeff"))
            break
    else:
        return [], None
    rows = []
    for number, line in numbered:
        if not line.strip():
            continue
        if line.startswith(bill_module.SUMMARY_COUNT):
            after = lines[number : number + 1]
            summary, at = bill_module._summary(number, [line, *after])
            settled = sum(r.settlement_fen for r in rows if not r.is_refund)
            refunded = sum(r.refund_fen for r in rows if r.is_refund)
            if summary.count != len(rows):
                raise BillError(
                    at, f"summary counts {summary.count} records, the bill has {len(rows)}"
                )
            if summary.settlement_fen != settled:
                raise BillError(
                    at,
                    f"summary settles {summary.settlement_fen} fen, the payment rows add up to {settled}",
                )
            if summary.refund_fen != refunded:
                raise BillError(
                    at,
                    f"summary refunds {summary.refund_fen} fen, the refund rows add up to {refunded}",
                )
            return rows, summary
        rows.append(bill_module._row(number, line, positions))
    raise BillError(len(lines), "the bill ends without its summary lines")


def outcome(read):
    try:
        parsed = read()
        return list(parsed.rows()), parsed.summary
    except BillError as exc:
        return str(exc)


# Each value in the bill's own form mostly, sometimes in another form the rules accept or refuse.
amounts = st.sampled_from(
    ["300.00", "250.00", "0.00", "12.30", "12.3", "5", " 7.00", "1e2", "-0.00", "", "0.001", "3x"]
)
times = st.sampled_from(
    [
        "2024-01-05 10:00:00",
        "2024-01-05 23:59:59",
        "2024-1-5 10:00:00",
        "2024/01/05",
        "2024-02-30 00:00:00",
    ]
)
fees = st.sampled_from(["1.80000", "-1.50000", "0.5", "", "x"])
bodies = st.sampled_from(["城乡居民医保", "a b", "a`b", "a,b", " 居民 "])


@st.composite
def records(draw):
    refund = draw(st.booleans())
    values = dict(zip(HEADER.split(","), PAYMENT.split(","), strict=True))
    values = {name: value[1:] for name, value in values.items()}
    values["交易时间"] = draw(times)
    values["商户订单号"] = draw(st.sampled_from(["SI1", "SI2", " SI3 "]))
    values["应结订单金额"] = draw(amounts)
    values["订单金额"] = draw(amounts)
    values["手续费"] = draw(fees)
    values["商品名称"] = draw(bodies)
    if refund:
        values["交易状态"] = "REFUND"
        values["微信退款单号"] = draw(st.sampled_from(["5000001", "0", ""]))
        values["商户退款单号"] = draw(st.sampled_from(["RSI1", ""]))
        values["退款金额"] = draw(amounts)
    line = ",".join("`" + value for value in values.values())
    if draw(st.integers(0, 20)) == 0:
        line = line.replace(",`", ",", 1)  # a value without its backtick
    return line


@st.composite
def bills(draw):
    lines = draw(st.lists(st.one_of(records(), st.just(""), st.just("  ")), max_size=8))
    rows = [line for line in lines if line.strip()]
    count = draw(st.sampled_from([len(rows), len(rows) + 1]))
    settled = draw(st.sampled_from(["300.00", "0.00", "600.00"]))
    summary = [SUMMARY_HEADER, f"`{count},`{settled},`0.00,`0.00,`1.80000,`300.00,`0.00"]
    if draw(st.integers(0, 10)) == 0:
        summary = draw(st.sampled_from([[], [SUMMARY_HEADER]]))
    head = draw(st.sampled_from(["", "\ufeff", "\r\n"]))
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    return head + newline.join([HEADER, *lines, *summary]) + newline


@given(bills())
def test_reading_by_columns_gives_what_the_rules_give_line_by_line(text):
    try:
        expected = line_by_line(text)
    except BillError as exc:
        expected = str(exc)
    assert outcome(lambda: parse(text)) == expected
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bill.txt"
        path.write_bytes(text.encode("utf-8"))
        assert outcome(lambda: parse_file(path)) == expected


def test_the_stored_file_reads_as_its_text(tmp_path):
    text = bill(PAYMENT, REFUND, refunded="250.00")
    path = tmp_path / "20240105-ALL.txt"
    path.write_bytes(text.encode("utf-8"))
    parsed, from_text = parse_file(path), parse(text)
    assert list(parsed.rows()) == list(from_text.rows())
    assert parsed.summary == from_text.summary
    assert parsed.frame().get_column("out_trade_no").to_list() == ["SI20240105001", "SI20240105002"]


def test_a_bill_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "bill.txt"
    path.write_bytes(bill(PAYMENT).encode("utf-8").replace("城乡".encode(), b"\xff\xfe"))
    with pytest.raises(BillError) as failed:
        parse_file(path).frame()
    assert failed.value.line == 2
