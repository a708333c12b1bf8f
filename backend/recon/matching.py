"""Matching a day's bill against our records (design.md section 9). Pure: plain data in and out.

Our side is keyed by order number. Each bill row takes the payment of its order number from our
side (a second row of the same number finds it taken); what is left on our
side afterwards is missing from the bill. Both sides are tables (polars) and the matching is a
join, so a day of a million payments is matched in well under a second; plain rows and mappings
are turned into tables first.

Kinds:
- missing_in_ours: WeChat took a payment we have not credited (usually a lost notification).
- missing_in_bill: we credited a payment the bill lacks; held for HOLD_DAYS (a payment near
  midnight can land in the next day's bill), then flagged.
- amount_mismatch: both sides have it, with different amounts.
- status_mismatch: a refund on one side only (or of another amount), matched by refund number:
  a day's bill carries the refunds that succeeded that day, whatever day the payment was; or a
  payment of our order under another transaction_id than the one we recorded.
- duplicate_payment: a second successful payment for registrations another order already paid.

Discrepancies come in this order: those of bill rows in bill order, then our refunds the bill
lacks, then our payments the bill lacks, each in our order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

import polars as pl

from backend.payments.bill import BILL_SCHEMA
from backend.states.orders import OrderStatus

Kind = Literal[
    "missing_in_ours", "missing_in_bill", "amount_mismatch", "status_mismatch", "duplicate_payment"
]
HOLD_DAYS = 2
CREDITED = (OrderStatus.PAID.value, OrderStatus.REFUNDED.value)

# Our payments as a table: OurPayment's fields, one row per order_no.
PAYMENT_SCHEMA: dict[str, pl.DataType] = {
    "order_no": pl.String(),
    "transaction_id": pl.String(),
    "paid_fen": pl.Int64(),
    "status": pl.String(),
    "paid_on": pl.Date(),
}


class BillLine(Protocol):
    """A bill row as plain data (the columns of backend.payments.bill.BILL_SCHEMA)."""

    order_no: str
    transaction_id: str
    paid_fen: int
    refund_fen: int
    refund_no: str | None

    @property
    def is_refund(self) -> bool: ...


class BillTable(Protocol):
    """A bill that can hand over all its rows as one table with BILL_SCHEMA's columns, in bill
    order (backend.payments.bill.Bill)."""

    def frame(self) -> pl.DataFrame: ...


@dataclass(frozen=True)
class OurPayment:
    order_no: str
    transaction_id: str | None
    paid_fen: int | None  # None: we never credited it (created, closed)
    status: str  # our order status: created, paid, closed, refund_due, refunded
    paid_on: date | None = None  # the Beijing date we credited it


class OurPayments(Mapping[str, OurPayment]):
    """Our payments as a table (PAYMENT_SCHEMA), read as a mapping by order_no when asked.

    A day can hold a million payments: matching joins the table itself; a lookup by order_no
    indexes it on first use.
    """

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame.select(
            pl.col(name).cast(dtype) for name, dtype in PAYMENT_SCHEMA.items()
        )
        self._index: dict[str, int] | None = None

    def __getitem__(self, order_no: str) -> OurPayment:
        if self._index is None:
            numbers = self.frame.get_column("order_no").to_list()
            self._index = {number: i for i, number in enumerate(numbers)}
        return OurPayment(*self.frame.row(self._index[order_no]))

    def __iter__(self) -> Iterator[str]:
        return iter(self.frame.get_column("order_no").to_list())

    def __len__(self) -> int:
        return self.frame.height


@dataclass(frozen=True)
class OurRefund:
    """A refund that succeeded on the day, by WeChat's success time."""

    refund_no: str
    order_no: str
    amount_fen: int


@dataclass(frozen=True)
class Discrepancy:
    kind: Kind
    order_no: str
    transaction_id: str | None
    ours_fen: int | None
    bill_fen: int | None
    held: bool = False  # missing_in_bill still inside its hold window
    refund_no: str = ""  # status_mismatch of a refund


@dataclass
class Outcome:
    matched: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)

    def of(self, kind: Kind) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.kind == kind]


def match(
    bill: Iterable[BillLine] | BillTable | pl.DataFrame,
    ours: Mapping[str, OurPayment],
    *,
    day: date,
    today: date,
    refunds: Mapping[str, OurRefund] | None = None,
) -> Outcome:
    """Classify every bill row, every credited payment of ours and every refund of ours for `day`.

    `bill`: the day's rows (BillLine), or a table of them (a DataFrame with BILL_SCHEMA's
    columns, or what has `frame()` giving one). `ours`: the payments we credited (or marked for
    refund) on the day, keyed by order_no, plus any order the bill may name that we have not
    credited (OurPayments is matched as the table it is). `refunds`: our refunds that succeeded
    on the day, keyed by refund_no.
    """
    # The bill's own columns, named apart from ours for the joins.
    rows = (
        _bill_frame(bill)
        .rename(
            {"order_no": "bill_order_no", "paid_fen": "bill_fen", "refund_no": "bill_refund_no"}
        )
        .with_row_index("position")
    )
    outcome = Outcome()

    # Each row takes the entry of its number, once: a repeated number finds it taken.
    payments, payments_left = _take(
        rows.filter(~pl.col("is_refund")), "bill_order_no", _payments_frame(ours)
    )
    bill_refunds, refunds_left = _take(
        rows.filter(pl.col("is_refund")).with_columns(pl.col("bill_refund_no").fill_null("")),
        "bill_refund_no",
        _refunds_frame(refunds or {}),
    )
    taken, paid, amount = pl.col("taken"), pl.col("paid_fen"), pl.col("amount_fen")
    payment_kind = (
        pl.when(~taken | paid.is_null())
        .then(pl.lit("missing_in_ours"))
        .when(pl.col("status") == OrderStatus.REFUND_DUE.value)
        .then(pl.lit("duplicate_payment"))
        .when(pl.col("transaction_id_ours") != pl.col("transaction_id"))
        .then(pl.lit("status_mismatch"))  # our order, another WeChat trade: for a person
        .when(paid != pl.col("bill_fen"))
        .then(pl.lit("amount_mismatch"))
    )
    refund_kind = pl.when(~taken | (amount != pl.col("refund_fen"))).then(pl.lit("status_mismatch"))
    in_bill = pl.concat(
        [
            payments.select(
                "position",
                kind=payment_kind,
                ours_fen=pl.when(taken).then(paid),
                bill_fen=pl.col("bill_fen"),
                refund_no=pl.lit(""),
                order_no=pl.col("bill_order_no"),
                transaction_id=pl.col("transaction_id"),
            ),
            bill_refunds.select(
                "position",
                kind=refund_kind,
                ours_fen=pl.when(taken).then(amount),
                bill_fen=pl.col("refund_fen"),
                refund_no=pl.col("bill_refund_no"),
                order_no=pl.col("bill_order_no"),
                transaction_id=pl.col("transaction_id"),
            ),
        ]
    )
    outcome.matched = in_bill.get_column("kind").null_count()
    found = in_bill.filter(pl.col("kind").is_not_null()).sort("position")
    for kind, ours_fen, bill_fen, refund_no, order_no, transaction_id in found.select(
        "kind", "ours_fen", "bill_fen", "refund_no", "order_no", "transaction_id"
    ).iter_rows():
        outcome.discrepancies.append(
            Discrepancy(kind, order_no, transaction_id, ours_fen, bill_fen, refund_no=refund_no)
        )

    # Given back here, never seen by WeChat's bill.
    transaction_ids = _transaction_ids(ours, refunds_left.get_column("order_no"))
    for refund_no, order_no, amount_fen in refunds_left.select(
        "refund_no", "order_no", "amount_fen"
    ).iter_rows():
        outcome.discrepancies.append(
            Discrepancy(
                "status_mismatch",
                order_no,
                transaction_ids.get(order_no),
                amount_fen,
                None,
                refund_no=refund_no,
            )
        )

    held = (today - day).days <= HOLD_DAYS
    missing = payments_left.filter(paid.is_not_null() & pl.col("status").is_in(CREDITED))
    for order_no, transaction_id, paid_fen in missing.select(
        "order_no", "transaction_id", "paid_fen"
    ).iter_rows():
        outcome.discrepancies.append(
            Discrepancy("missing_in_bill", order_no, transaction_id, paid_fen, None, held=held)
        )
    return outcome


def _take(rows: pl.DataFrame, key: str, entries: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`rows` with the columns of the entry (by `entries`' `key`) each takes, null where it
    takes none, and `taken`; and the entries no row took, in their order."""
    entries = entries.with_row_index("entry")
    # In no particular order: the few discrepancies are put in bill order afterwards.
    joined = rows.join(entries.rename({"key": key}), on=key, how="left", suffix="_ours")
    took = joined.get_column("entry").drop_nulls()
    used = pl.repeat(False, entries.height, dtype=pl.Boolean, eager=True).scatter(took, True)
    if used.sum() < took.len():  # a number in more than one row: the first takes the entry
        joined = joined.sort("position").with_columns(
            taken=pl.col("entry").is_not_null() & pl.col(key).is_first_distinct()
        )
    else:
        joined = joined.with_columns(taken=pl.col("entry").is_not_null())
    return joined, entries.filter(~used).drop("entry", "key")


def _transaction_ids(ours: Mapping[str, OurPayment], order_nos: pl.Series) -> dict[str, str | None]:
    """Our transaction_id of each of a few order numbers we have."""
    if isinstance(ours, OurPayments):  # one pass over the table, not an index of it
        found = ours.frame.filter(pl.col("order_no").is_in(order_nos.implode()))
        return dict(found.select("order_no", "transaction_id").iter_rows())
    return {number: ours[number].transaction_id for number in order_nos if number in ours}


def _bill_frame(bill: Iterable[BillLine] | BillTable | pl.DataFrame) -> pl.DataFrame:
    if not isinstance(bill, pl.DataFrame):
        frame = getattr(bill, "frame", None)
        if callable(frame):
            bill = frame()
    if isinstance(bill, pl.DataFrame):
        return bill.select(pl.col(name).cast(dtype) for name, dtype in BILL_SCHEMA.items())
    return pl.DataFrame(
        [
            (
                row.order_no,
                row.transaction_id,
                row.paid_fen,
                row.refund_fen,
                row.refund_no,
                row.is_refund,
            )
            for row in bill
        ],
        schema=BILL_SCHEMA,
        orient="row",
    )


def _payments_frame(ours: Mapping[str, OurPayment]) -> pl.DataFrame:
    """Our payments with `key`: what the bill's order number is looked up by."""
    if isinstance(ours, OurPayments):
        return ours.frame.with_columns(key=pl.col("order_no"))
    return pl.DataFrame(
        [
            (key, p.order_no, p.transaction_id, p.paid_fen, p.status, p.paid_on)
            for key, p in ours.items()
        ],
        schema={"key": pl.String(), **PAYMENT_SCHEMA},
        orient="row",
    )


def _refunds_frame(refunds: Mapping[str, OurRefund]) -> pl.DataFrame:
    return pl.DataFrame(
        [(key, r.refund_no, r.order_no, r.amount_fen) for key, r in refunds.items()],
        schema={
            "key": pl.String(),
            "refund_no": pl.String(),
            "order_no": pl.String(),
            "amount_fen": pl.Int64(),
        },
        orient="row",
    )
