"""WeChat Pay's daily bill (downloadbill, API v2 text format), parsed into integer fen.

The format (reference: wechat-pay.md section 1.9): a header line of column names; one line per
record with every value prefixed by a backtick; a summary header; one summary line. Yuan with two
decimals (the fee with five); `\\r\\n` or `\\n`. Columns differ by bill type and merchant (27 for
ALL, 20 for SUCCESS, 29 for REFUND, a legacy 24), so fields are found by header name.

Pure: no database, no web framework. A bill of a million rows is read column-wise by polars: the
lines once, to check every record's shape (a backtick before every value, as many values as
columns) and to find the header and the summary; then only the columns we use. Each check runs
over whole columns; the few lines a fast check cannot vouch for are read again one by one by the
exact rules below (`_row`), which decide and name the first bad line. The totals line is checked
against the rows before any row is handed out. `frame()` gives the rows as a table (what
matching joins on); `rows()` gives them one BillRow at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import polars as pl

from backend.payments.bill import BillError, BillTotals
from backend.values.beijing import BEIJING

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

# The columns of `Bill.frame()`, one row per record in bill order (BillRow's fields).
FRAME_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "trade_time": pl.Datetime("us"),  # naive UTC
    "transaction_id": pl.String(),
    "out_trade_no": pl.String(),
    "trade_state": pl.String(),
    "settlement_fen": pl.Int64(),
    "refund_fen": pl.Int64(),
    "refund_id": pl.String(),
    "out_refund_no": pl.String(),
    "refund_status": pl.String(),
    "fee_yuan": pl.String(),  # checked to read as a Decimal
    "total_fen": pl.Int64(),
    "openid": pl.String(),
    "trade_type": pl.String(),
    "is_refund": pl.Boolean(),
}
_READ = ("trade_time", "transaction_id", "out_trade_no", "openid", "trade_type", "trade_state")
_READ += ("settlement_yuan", "refund_id", "out_refund_no", "refund_yuan", "refund_status")
_READ += ("fee_yuan", "total_yuan")
# What the fast checks vouch for; anything else is read by the exact rules (_row).
_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
_YUAN = r"^-?[0-9]{1,15}\.[0-9]{2}$"  # the bill's own form, within int64 as fen
_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
_PREFIX = 1 << 16  # where the header is looked for first


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


class Bill:
    """One bill, read on first use of `rows()` or `frame()`; `summary` is set, and checked, then.

    BillError is raised by that first use (naming the first bad line), before any row is given.
    """

    def __init__(self, source: bytes | Path) -> None:
        self._source: bytes | Path | None = source
        self._frame: pl.DataFrame | None = None
        self.summary: BillSummary | None = None

    def frame(self) -> pl.DataFrame:
        """Every record as a row of FRAME_SCHEMA, in bill order (empty for an empty body)."""
        if self._frame is None:
            source = self._source
            assert source is not None
            self._frame, self.summary = _read(source)
            self._source = None  # the text is no longer needed
        return self._frame

    def rows(self) -> BillRows:
        return BillRows(self)


class PlainBill:
    """The bill as the payment port hands it over: plain rows in the project's words
    (backend.payments.bill), for reconciliation."""

    def __init__(self, bill: Bill) -> None:
        self._bill = bill

    def frame(self) -> pl.DataFrame:
        return self._bill.frame().select(
            order_no=pl.col("out_trade_no"),
            transaction_id=pl.col("transaction_id"),
            paid_fen=pl.col("settlement_fen"),
            refund_fen=pl.col("refund_fen"),
            refund_no=pl.col("out_refund_no"),
            is_refund=pl.col("is_refund"),
        )

    @property
    def totals(self) -> BillTotals | None:
        summary = self._bill.summary
        if summary is None:
            return None
        return BillTotals(summary.count, summary.settlement_fen, summary.refund_fen)


class BillRows(Iterator[BillRow]):
    """The bill's records one at a time; `frame()` has them all as a table instead."""

    def __init__(self, bill: Bill) -> None:
        self.bill = bill
        self._rows: Iterator[BillRow] | None = None

    def frame(self) -> pl.DataFrame:
        return self.bill.frame()

    def __next__(self) -> BillRow:
        if self._rows is None:
            self._rows = _bill_rows(self.bill.frame())
        return next(self._rows)


def parse(text: str) -> Bill:
    """A bill from the downloaded text (either line ending)."""
    return Bill(text.encode("utf-8"))


def parse_file(path: Path | str) -> Bill:
    """A bill from the stored file (UTF-8, as downloaded), read without decoding it in Python."""
    return Bill(Path(path))


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


def _read(source: bytes | Path) -> tuple[pl.DataFrame, BillSummary | None]:
    """The records as a table and the checked summary; (empty, None) for an empty body.

    Two streaming passes, neither holding the whole text: the lines (keeping only those after
    the header that are not shaped as records: the summary, blank lines, bad lines), then the
    columns we read.
    """
    head = _head(source)
    if head is None:
        return pl.DataFrame(schema=FRAME_SCHEMA), None  # an empty body: no bill for the day
    first, header = head
    positions = _positions(first + 1, header.lstrip("\ufeff"))
    odd = _odd_lines(source, first, positions["_width"])
    summary_at = odd.filter(pl.col("line").str.starts_with(SUMMARY_COUNT)).get_column("index")
    end = int(summary_at[0]) if summary_at.len() else _count_lines(source)
    frame = _records(source, odd, positions, first, end)
    if not summary_at.len():
        raise BillError(end, "the bill ends without its summary lines")
    texts = _texts(source, odd, [end, end + 1])
    summary, summary_line = _summary(end + 1, [texts[i] for i in (end, end + 1) if i in texts])
    _check(summary, summary_line, frame)
    return frame, summary


def _collect(query: pl.LazyFrame, source: bytes | Path) -> pl.DataFrame:
    """The query's result; text that is not UTF-8 is a BillError naming its line."""
    try:
        return query.collect(engine="streaming")
    except pl.exceptions.ComputeError:
        data = source if isinstance(source, bytes) else source.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BillError(data.count(b"\n", 0, exc.start) + 1, "not UTF-8 text") from None
        raise


def _lines(source: bytes | Path) -> pl.LazyFrame:
    """Every line without its line ending, with its 0-based `index` (blank lines kept)."""
    return pl.scan_lines(source, name="line", row_index_name="index").with_columns(
        pl.col("index").cast(pl.Int64)
    )


def _head(source: bytes | Path) -> tuple[int, str] | None:
    """The header's line index and text: the first line that is not blank; None if none is."""
    if isinstance(source, bytes):
        prefix = source[:_PREFIX]
    else:
        with source.open("rb") as file:
            prefix = file.read(_PREFIX)
    for index, piece in enumerate(prefix.split(b"\n")[:-1]):  # whole lines only
        try:
            text = piece.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            break  # the query below says where
        if text.lstrip("\ufeff").strip():
            return index, text
    else:
        if len(prefix) < _PREFIX and not prefix.strip():
            return None  # nothing but blank lines
    found = _collect(
        _lines(source)
        .filter(pl.col("line").str.strip_chars_start("\ufeff").str.strip_chars() != "")
        .head(1),
        source,
    )
    return (int(found["index"][0]), found["line"][0]) if found.height else None


def _odd_lines(source: bytes | Path, header_index: int, width: int) -> pl.DataFrame:
    """The lines after the header that are not shaped as records (a backtick before every value,
    as many values as the header has names): `index` and `line`."""
    commas = width - 1
    text = pl.col("line")
    shaped = (
        text.str.starts_with("`")
        & (text.str.count_matches(",", literal=True) == commas)
        & (text.str.count_matches(",`", literal=True) == commas)
    )
    return _collect(_lines(source).filter((pl.col("index") > header_index) & ~shaped), source)


def _count_lines(source: bytes | Path) -> int:
    return int(_collect(_lines(source).select(pl.len()), source).item())


def _texts(source: bytes | Path, odd: pl.DataFrame, indices: list[int]) -> dict[int, str]:
    """The text of some lines (by 0-based index), those that exist."""
    texts = dict(odd.filter(pl.col("index").is_in(indices)).iter_rows())
    wanted = [i for i in indices if i not in texts]
    if wanted:
        found = _collect(_lines(source).filter(pl.col("index").is_in(wanted)), source)
        texts.update(found.iter_rows())
    return texts


def _columns(
    source: bytes | Path, header_index: int, positions: dict[str, int]
) -> pl.DataFrame | None:
    """Every line after the header split into the columns we read, as FRAME_SCHEMA's columns,
    with `ok` where the fast checks vouch for the values (the line's shape aside); None when the
    text cannot be split so (the line rules then say what is wrong)."""
    read = {key: positions[key] for key in _READ if key in positions}
    query = (
        pl.scan_csv(
            source,
            has_header=False,
            skip_lines=header_index + 1,
            schema={f"column_{i}": pl.String() for i in range(positions["_width"])},
            missing_columns="insert",
            extra_columns="ignore",
            truncate_ragged_lines=True,
            quote_char=None,
            raise_if_empty=False,
            row_index_name="index",
            row_index_offset=header_index + 1,
        )
        .select(
            pl.col("index"),
            *(
                pl.col(f"column_{index}").str.slice(1).str.strip_chars().alias(key)
                for key, index in read.items()
            ),
        )
        .with_columns(line=pl.col("index").cast(pl.Int64) + 1)
        .select(*_converted(read), ok=_vouched(read))
    )
    try:
        return query.collect(engine="streaming")
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):
        return None


def _records(
    source: bytes | Path,
    odd: pl.DataFrame,
    positions: dict[str, int],
    header_index: int,
    end: int,
) -> pl.DataFrame:
    """The records (the lines after the header, before index `end`), checked, as FRAME_SCHEMA
    rows in line order."""
    count = end - header_index - 1
    if count <= 0:
        return pl.DataFrame(schema=FRAME_SCHEMA)
    among = odd.filter(pl.col("index") < end)
    blank = [i + 1 for i, text in among.iter_rows() if not text.strip()]  # skipped, as in a bill
    unshaped = [i + 1 for i, text in among.iter_rows() if text.strip()]
    columns = _columns(source, header_index, positions)
    if columns is None or columns.height < count:  # the columns could not be read: line rules
        texts = _collect(_lines(source).slice(header_index + 1, count), source)
        rows = [_row(i + 1, text, positions) for i, text in texts.iter_rows() if text.strip()]
        return _frame_of(rows)
    if columns.height > count:
        columns = columns.slice(0, count)
    ok = pl.col("ok") & ~pl.col("line").is_in(unshaped) if unshaped else pl.col("ok")
    if blank:
        columns = columns.filter(~pl.col("line").is_in(blank))
    doubtful = columns.filter(~ok).get_column("line").to_list()
    if not doubtful:
        return columns.drop("ok")
    # By the exact rules, in line order: the first bad line is the bill's error.
    texts = _texts(source, odd, [n - 1 for n in doubtful])
    rows = [_row(n, texts[n - 1], positions) for n in doubtful]
    return pl.concat([columns.filter(ok).drop("ok"), _frame_of(rows)]).sort("line")


def _text(read: dict[str, int], key: str) -> pl.Expr:
    return pl.col(key) if key in read else pl.lit("", pl.String)


def _or_none(value: pl.Expr) -> pl.Expr:
    return pl.when(value != "").then(value)


def _fen(value: pl.Expr) -> pl.Expr:
    """Yuan in the bill's own form (see _YUAN) as fen; blank is 0, as in _row."""
    digits = value.str.replace(".", "", literal=True).cast(pl.Int64, strict=False)
    return pl.when(value == "").then(0).otherwise(digits)


def _is_refund(read: dict[str, int]) -> pl.Expr:
    refund_id = _text(read, "refund_id")
    return (refund_id != "") & (refund_id != "0")


def _converted(read: dict[str, int]) -> list[pl.Expr]:
    """FRAME_SCHEMA's columns, right wherever _vouched holds (_row's rules, column-wise)."""
    is_refund = _is_refund(read)
    beijing = pl.col("trade_time").str.strptime(
        pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False
    )
    fee = _text(read, "fee_yuan")
    total = _fen(pl.col("total_yuan")) if "total_yuan" in read else pl.lit(None, pl.Int64)
    return [
        pl.col("line"),
        (beijing - BEIJING.utcoffset(None)).alias("trade_time"),  # Beijing has no daylight saving
        pl.col("transaction_id"),
        pl.col("out_trade_no"),
        pl.col("trade_state"),
        _fen(pl.col("settlement_yuan")).alias("settlement_fen"),
        pl.when(is_refund).then(_fen(_text(read, "refund_yuan"))).otherwise(0).alias("refund_fen"),
        pl.when(is_refund).then(_text(read, "refund_id")).alias("refund_id"),
        pl.when(is_refund).then(_or_none(_text(read, "out_refund_no"))).alias("out_refund_no"),
        pl.when(is_refund).then(_or_none(_text(read, "refund_status"))).alias("refund_status"),
        pl.when(fee == "").then(pl.lit("0")).otherwise(fee).alias("fee_yuan"),
        total.alias("total_fen"),
        _or_none(_text(read, "openid")).alias("openid"),
        _or_none(_text(read, "trade_type")).alias("trade_type"),
        is_refund.alias("is_refund"),
    ]


def _vouched(read: dict[str, int]) -> pl.Expr:
    """True where the fast checks show the row reads exactly as _row reads it."""

    def yuan(value: pl.Expr) -> pl.Expr:
        return (value == "") | value.str.contains(_YUAN)

    ok = pl.col("trade_time").str.contains(_TIME)
    ok &= (
        pl.col("trade_time")
        .str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
        .is_not_null()
    )
    ok &= yuan(pl.col("settlement_yuan"))
    if "refund_yuan" in read:
        ok &= ~_is_refund(read) | yuan(pl.col("refund_yuan"))
    if "total_yuan" in read:
        ok &= yuan(pl.col("total_yuan"))
    if "fee_yuan" in read:
        ok &= (pl.col("fee_yuan") == "") | pl.col("fee_yuan").str.contains(_DECIMAL)
    return ok


def _frame_of(rows: list[BillRow]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            (
                r.line,
                r.trade_time.astimezone(UTC).replace(tzinfo=None),
                r.transaction_id,
                r.out_trade_no,
                r.trade_state,
                r.settlement_fen,
                r.refund_fen,
                r.refund_id,
                r.out_refund_no,
                r.refund_status,
                str(r.fee_yuan),
                r.total_fen,
                r.openid,
                r.trade_type,
                r.is_refund,
            )
            for r in rows
        ],
        schema=FRAME_SCHEMA,
        orient="row",
    )


def _bill_rows(frame: pl.DataFrame) -> Iterator[BillRow]:
    for (
        line,
        trade_time,
        transaction_id,
        out_trade_no,
        trade_state,
        settlement_fen,
        refund_fen,
        refund_id,
        out_refund_no,
        refund_status,
        fee_yuan,
        total_fen,
        openid,
        trade_type,
        _,
    ) in frame.iter_rows():
        yield BillRow(
            line=line,
            trade_time=trade_time.replace(tzinfo=UTC),
            transaction_id=transaction_id,
            out_trade_no=out_trade_no,
            trade_state=trade_state,
            settlement_fen=settlement_fen,
            refund_fen=refund_fen,
            refund_id=refund_id,
            out_refund_no=out_refund_no,
            refund_status=refund_status,
            fee_yuan=Decimal(fee_yuan),
            total_fen=total_fen,
            openid=openid,
            trade_type=trade_type,
        )


def _check(summary: BillSummary, line: int, frame: pl.DataFrame) -> None:
    refund = pl.col("is_refund")
    count, settled, refunded = frame.select(
        pl.len(),
        pl.col("settlement_fen").filter(~refund).sum(),
        pl.col("refund_fen").filter(refund).sum(),
    ).row(0)
    if summary.count != count:
        raise BillError(line, f"summary counts {summary.count} records, the bill has {count}")
    if summary.settlement_fen != settled:
        raise BillError(
            line,
            f"summary settles {summary.settlement_fen} fen, the payment rows add up to {settled}",
        )
    if summary.refund_fen != refunded:
        raise BillError(
            line,
            f"summary refunds {summary.refund_fen} fen, the refund rows add up to {refunded}",
        )


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


def _summary(line: int, texts: list[str]) -> tuple[BillSummary, int]:
    """The summary (its header on `line`, then `texts`: that header and the line after it) and
    the line number of its values."""
    names = [n.strip() for n in texts[0].split(",")]
    if len(texts) < 2:
        raise BillError(line, "the summary header has no summary line after it")
    number = line + 1
    values = _values(number, texts[1], len(names))
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
