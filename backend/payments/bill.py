"""A payment platform's daily bill as plain rows: what reconciliation reads, whatever the platform.

A platform adapter reads its own bill format (backend/payments/wechat/bill.py for WeChat Pay) and
hands over a table with these columns, in the bill's order, and the totals line it checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl

BILL_SCHEMA: dict[str, pl.DataType] = {
    "order_no": pl.String(),  # our order number
    "transaction_id": pl.String(),  # the platform's number of the payment
    "paid_fen": pl.Int64(),  # what the payer paid (a payment row)
    "refund_fen": pl.Int64(),  # what went back (a refund row)
    "refund_no": pl.String(),  # our refund number (a refund row), else null
    "is_refund": pl.Boolean(),
}


class BillError(ValueError):
    """The bill cannot be read as its platform writes it; `line` is 1-based in the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class BillTotals:
    """The bill's own totals line, already checked against its rows."""

    count: int
    paid_fen: int
    refund_fen: int


class Bill(Protocol):
    def frame(self) -> pl.DataFrame:
        """Every row, in bill order, with (at least) BILL_SCHEMA's columns. BillError, naming
        the first bad line, when the bill cannot be read; `totals` is set once this returns."""
        ...

    @property
    def totals(self) -> BillTotals | None: ...
