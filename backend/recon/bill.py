"""WeChat Pay's daily bill (downloadbill, API v2 text format), parsed into integer fen.

The format (reference: wechat-pay.md section 1.9): a header line of column names; one line per
record with every value prefixed by a backtick; a summary header; one summary line. Yuan with two
decimals (the fee with five); `\\r\\n` or `\\n`. Columns differ by bill type and merchant (27 for
ALL, 20 for SUCCESS, 29 for REFUND, a legacy 24), so fields are found by header name.

Pure: no database, no web framework. Rows are yielded one at a time, so a million-row bill never
has to sit in memory; the totals line is checked against the rows once the last one is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from backend.beijing import BEIJING

# Our name -> the header names it may have (current first, legacy after).
COLUMNS = {
    "trade_time": ("交易时间",),
    "appid": ("公众账号ID",),
    "mch_id": ("商户号",),
    "transaction_id": ("微信订单号",),
    "out_trade_no": ("商户订单号",),
    "openid": ("用户标识",),
    "trade_type": ("交易类型",),
    "trade_state": ("交易状态",),
    "settlement_yuan": ("应结订单金额", "总金额"),
    "refund_id": ("微信退款单号",),
    "out_refund_no": ("商户退款单号",),
    "refund_yuan": ("退款金额",),
    "refund_status": ("退款状态",),
    "body": ("商品名称",),
    "attach": ("商户数据包",),
    "fee_yuan": ("手续费",),
    "total_yuan": ("订单金额",),
}
REQUIRED = ("trade_time", "transaction_id", "out_trade_no", "trade_state", "settlement_yuan")
SUMMARY_COUNT = "总交易单数"
SUMMARY_SETTLEMENT = ("应结订单总金额", "总交易额")
SUMMARY_REFUNDS = ("退款总金额", "总退款金额")


class BillError(ValueError):
    """The bill cannot be read as WeChat writes it; `line` is 1-based in the downloaded text."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class BillRow:
    line: int
    trade_time: datetime  # aware, UTC (the bill speaks Beijing time)
    transaction_id: str
    out_trade_no: str
    trade_state: str  # SUCCESS, REFUND, REVOKED
    settlement_fen: int
    refund_fen: int
    refund_id: str | None  # None on payment rows (the bill writes "0")
    out_refund_no: str | None
    refund_status: str | None
    fee_yuan: Decimal  # five decimals: not a whole number of fen
    total_fen: int | None
    openid: str | None = None
    trade_type: str | None = None

    @property
    def is_refund(self) -> bool:
        return self.refund_id is not None


@dataclass
class BillSummary:
    count: int
    settlement_fen: int
    refund_fen: int
    fee_yuan: Decimal | None = None


@dataclass
class Bill:
    """Iterate `rows()` once; `summary` is set, and checked, when the rows are exhausted."""

    lines: Iterable[str]
    summary: BillSummary | None = None
    _seen: dict[str, int] = field(default_factory=lambda: {"count": 0, "settle": 0, "refund": 0})

    def rows(self) -> Iterator[BillRow]:
        numbered = enumerate(self.lines, start=1)
        header = _first_line(numbered)
        if header is None:
            return  # an empty body: no bill for the day
        number, text = header
        positions = _positions(number, text)
        for number, text in numbered:
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            if text.startswith(SUMMARY_COUNT):
                self.summary, summary_line = _summary(numbered, number, text)
                self._check(summary_line)
                return
            row = _row(number, text, positions)
            self._seen["count"] += 1
            if row.is_refund:
                self._seen["refund"] += row.refund_fen
            else:
                self._seen["settle"] += row.settlement_fen
            yield row
        raise BillError(number, "the bill ends without its summary lines")

    def _check(self, line: int) -> None:
        summary = self.summary
        assert summary is not None
        seen = self._seen
        if summary.count != seen["count"]:
            raise BillError(
                line, f"summary counts {summary.count} records, the bill has {seen['count']}"
            )
        if summary.settlement_fen != seen["settle"]:
            raise BillError(
                line,
                f"summary settles {summary.settlement_fen} fen, the payment rows add up to {seen['settle']}",
            )
        if summary.refund_fen != seen["refund"]:
            raise BillError(
                line,
                f"summary refunds {summary.refund_fen} fen, the refund rows add up to {seen['refund']}",
            )


def parse(text: str) -> Bill:
    """A bill from the downloaded text (either line ending)."""
    return Bill(text.splitlines())


def yuan_to_fen(value: str, *, line: int, column: str) -> int:
    """'300.00' -> 30000 exactly; anything with more than two decimals that are not zero is refused."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BillError(line, f"{column}: {value!r} is not an amount") from None
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise BillError(line, f"{column}: {value!r} is not a whole number of fen")
    return int(fen)


def _first_line(numbered: Iterator[tuple[int, str]]) -> tuple[int, str] | None:
    for number, text in numbered:
        text = text.rstrip("\r\n").lstrip("\ufeff")
        if text.strip():
            return number, text
    return None


def _positions(line: int, header: str) -> dict[str, int]:
    names = [name.strip() for name in header.split(",")]
    positions = {}
    for key, candidates in COLUMNS.items():
        for candidate in candidates:
            if candidate in names:
                positions[key] = names.index(candidate)
                break
    missing = [COLUMNS[key][0] for key in REQUIRED if key not in positions]
    if missing:
        raise BillError(line, f"header lacks {', '.join(missing)}")
    positions["_width"] = len(names)
    return positions


def _values(line: int, text: str, width: int | None = None) -> list[str]:
    values = text.split(",")
    if any(not v.startswith("`") for v in values):
        raise BillError(line, "every value of a record must start with a backtick")
    if width is not None and len(values) != width:
        raise BillError(line, f"{len(values)} values for {width} columns")
    return [v[1:] for v in values]


def _row(line: int, text: str, positions: dict[str, int]) -> BillRow:
    values = _values(line, text, positions["_width"])

    def get(key: str) -> str | None:
        index = positions.get(key)
        return values[index].strip() if index is not None else None

    def fen(key: str) -> int:
        raw = get(key)
        return yuan_to_fen(raw, line=line, column=COLUMNS[key][0]) if raw else 0

    try:
        trade_time = (
            datetime.strptime(get("trade_time") or "", "%Y-%m-%d %H:%M:%S")
            .replace(tzinfo=BEIJING)
            .astimezone(UTC)
        )
    except ValueError:
        raise BillError(
            line, f"交易时间: {get('trade_time')!r} is not yyyy-MM-dd HH:mm:ss"
        ) from None
    refund_id = get("refund_id")
    is_refund = bool(refund_id) and refund_id != "0"
    fee = get("fee_yuan") or "0"
    try:
        fee_yuan = Decimal(fee)
    except InvalidOperation:
        raise BillError(line, f"手续费: {fee!r} is not an amount") from None
    return BillRow(
        line=line,
        trade_time=trade_time,
        transaction_id=get("transaction_id") or "",
        out_trade_no=get("out_trade_no") or "",
        trade_state=get("trade_state") or "",
        settlement_fen=fen("settlement_yuan"),
        refund_fen=fen("refund_yuan") if is_refund else 0,
        refund_id=refund_id if is_refund else None,
        out_refund_no=(get("out_refund_no") or None) if is_refund else None,
        refund_status=(get("refund_status") or None) if is_refund else None,
        fee_yuan=fee_yuan,
        total_fen=fen("total_yuan") if "total_yuan" in positions else None,
        openid=get("openid") or None,
        trade_type=get("trade_type") or None,
    )


def _summary(
    numbered: Iterator[tuple[int, str]], line: int, header: str
) -> tuple[BillSummary, int]:
    """The summary and the line number of its values."""
    names = [n.strip() for n in header.split(",")]
    try:
        number, text = next(numbered)
    except StopIteration:
        raise BillError(line, "the summary header has no summary line after it") from None
    values = _values(number, text.rstrip("\r\n"), len(names))
    by_name = dict(zip(names, values, strict=True))

    def amount(candidates: tuple[str, ...]) -> int:
        for name in candidates:
            if name in by_name:
                return yuan_to_fen(by_name[name], line=number, column=name)
        raise BillError(line, f"summary lacks {candidates[0]}")

    try:
        count = int(by_name[SUMMARY_COUNT])
    except (KeyError, ValueError):
        raise BillError(number, f"{SUMMARY_COUNT} is not a whole number") from None
    fee = by_name.get("手续费总金额")
    summary = BillSummary(
        count=count,
        settlement_fen=amount(SUMMARY_SETTLEMENT),
        refund_fen=amount(SUMMARY_REFUNDS),
        fee_yuan=Decimal(fee) if fee else None,
    )
    return summary, number
