"""The downloadbill text (§1.9): what a merchant reconciles against, byte for byte.

A day's bill holds the payments whose time_end falls on that Beijing day and the refunds that
succeeded on it. Every value is prefixed with a backtick, money is yuan with two decimals, the fee
is rounded to the fen per row (WeChat charges whole fen) but printed with five decimals, lines end
in CRLF. Refund rows keep the payment's 交易时间 (so a refund row can carry an earlier date than the
bill's day), show 交易状态 REFUND, no 应结订单金额/订单金额, and a negative fee.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from fakes.wechat import beijing
from fakes.wechat.trades import Refund, Trade

BILL_TYPES = ("ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND")
FEE_RATE = Decimal("0.006")

_HEAD = [
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号",
    "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额",
]  # fmt: skip
_REFUND = [
    "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态",
]  # fmt: skip
_TAIL = ["商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注"]

COLUMNS = {
    "ALL": [*_HEAD, *_REFUND, *_TAIL],  # 27
    "SUCCESS": [*_HEAD, "商品名称", "商户数据包", "手续费", "费率", "订单金额", "费率备注"],  # 20
    "REFUND": [*_HEAD, "退款申请时间", "退款成功时间", *_REFUND, *_TAIL],  # 29
}
SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def yuan(fen: int | Decimal) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def fee(fen: int) -> Decimal:
    return (yuan(fen) * FEE_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _payment_row(t: Trade) -> dict[str, str]:
    assert t.paid_at is not None
    return {
        **_trade_columns(t),
        "交易状态": "SUCCESS",
        "应结订单金额": f"{yuan(t.total_fee)}",
        "微信退款单号": "0",
        "商户退款单号": "0",
        "退款金额": "0.00",
        "手续费": f"{fee(t.total_fee):.5f}",
        "订单金额": f"{yuan(t.total_fee)}",
        "申请退款金额": "0.00",
    }


def _refund_row(t: Trade, r: Refund) -> dict[str, str]:
    assert r.succeeded_at is not None
    return {
        **_trade_columns(t),
        "交易状态": "REFUND",
        "应结订单金额": "0.00",
        "退款申请时间": beijing.dashed(r.requested_at),
        "退款成功时间": beijing.dashed(r.succeeded_at),
        "微信退款单号": r.refund_id,
        "商户退款单号": r.out_refund_no,
        "退款金额": f"{yuan(r.refund_fee)}",
        "退款类型": "ORIGINAL",
        "退款状态": r.status,
        "手续费": f"{-fee(r.refund_fee) or Decimal(0):.5f}",  # never "-0.00000"
        "订单金额": "0.00",
        "申请退款金额": f"{yuan(r.refund_fee)}",
    }


def _trade_columns(t: Trade) -> dict[str, str]:
    assert t.paid_at is not None
    return {
        "交易时间": beijing.dashed(t.paid_at),
        "公众账号ID": t.appid,
        "商户号": t.mch_id,
        "特约商户号": "0",
        "设备号": t.device_info,
        "微信订单号": t.transaction_id,
        "商户订单号": t.out_trade_no,
        "用户标识": t.openid,
        "交易类型": t.trade_type,
        "付款银行": t.bank_type,
        "货币种类": "CNY",
        "代金券金额": "0.00",
        "充值券退款金额": "0.00",
        "商品名称": t.body,
        "商户数据包": t.attach,
        "费率": "0.60%",
        "费率备注": "",
    }


def records(bill_type: str, day: str, trades: Iterable[Trade]) -> list[dict[str, str]]:
    """The rows of `day`'s (yyyyMMdd) bill of a type, in time order."""
    dated: list[tuple[float, dict[str, str]]] = []
    for t in trades:
        if t.paid_at is None:
            continue
        if bill_type in ("ALL", "SUCCESS") and beijing.day_of(t.paid_at) == day:
            dated.append((t.paid_at, _payment_row(t)))
        if bill_type in ("ALL", "REFUND"):
            for r in t.refunds:
                if r.succeeded_at is not None and beijing.day_of(r.succeeded_at) == day:
                    dated.append((r.succeeded_at, _refund_row(t, r)))
    return [row for _, row in sorted(dated, key=lambda pair: pair[0])]


def render(bill_type: str, day: str, trades: Iterable[Trade]) -> str | None:
    """The bill text, or None when the day has no records (WeChat answers `No Bill Exist`).

    RECHARGE_REFUND bills are always empty: the fake has no recharge coupons.
    """
    rows = records(bill_type, day, trades) if bill_type in COLUMNS else []
    if not rows:
        return None
    columns = COLUMNS[bill_type]
    lines = [",".join(columns)]
    lines += [",".join("`" + row.get(c, "") for c in columns) for row in rows]

    def total(column: str) -> Decimal:
        return sum((Decimal(row[column]) for row in rows), Decimal("0"))

    lines.append(SUMMARY)
    summary = [
        str(len(rows)),
        f"{total('应结订单金额'):.2f}",
        f"{total('退款金额'):.2f}",
        "0.00",
        f"{total('手续费'):.5f}",
        f"{total('订单金额'):.2f}",
        f"{total('申请退款金额'):.2f}",
    ]
    lines.append(",".join("`" + v for v in summary))
    return "\r\n".join(lines) + "\r\n"
