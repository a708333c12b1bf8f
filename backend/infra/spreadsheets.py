"""The files staff download (booking files, settlement files): CSV that Excel opens, and XLSX.

Both carry a header row of Chinese column titles, one row per record and closing total lines:
optional subtotals over parts of the records (e.g. payments, refunds), then the total of all of
them. Each total line gives its title, its number of records, the fen total and the same total as
yuan text. Money stays integer fen; yuan appear only as text with two decimals. No cell can run as
a formula when the file is opened: every text cell goes through excel_safe (money_safe in the yuan
columns), and numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.values.money import yuan_text

Record = dict[str, Any]

# What makes Excel (or LibreOffice) read a cell typed in as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+\.\d{2}")  # yuan text as yuan_text writes it


def excel_safe(value: Any) -> Any:
    """The one rule for every cell of every file staff download: text that starts like a formula
    (= + - @, a tab or a carriage return: a name, a collection number or a note from an import,
    say) gets a leading apostrophe, so Excel shows it and never runs it. Numbers (money in fen,
    counts), dates and None pass unchanged and stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def money_safe(value: Any) -> Any:
    """A yuan column's cell: the amount as yuan_text writes it ("-35.00", a refund) stays as it is,
    so reconciliation staff read a negative amount, not a quoted text; anything else, excel_safe."""
    if isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value):
        return value
    return excel_safe(value)


def cell_rule(key: str) -> Callable[[Any], Any]:
    """Columns named `<something>_yuan` carry yuan text (money_safe); every other, excel_safe."""
    return money_safe if key.endswith("_yuan") else excel_safe


@dataclass(frozen=True)
class Subtotal:
    """A total line over the records `includes` picks, written before the closing total line."""

    title: str
    includes: Callable[[Record], bool]
    omit_when_empty: bool = False  # a line for a kind of record most files never have


@dataclass(frozen=True)
class Table:
    columns: Sequence[tuple[str, str]]  # (record key, column title)
    amount_key: str  # the fen column the total lines add up
    widths: dict[str, int] = field(default_factory=dict)  # XLSX column widths by key
    subtotals: Sequence[Subtotal] = ()
    total_title: str = (
        "合计"  # the closing line, over every record (or those `total_includes` picks)
    )
    total_includes: Callable[[Record], bool] | None = None
    # Further columns the total lines add up (a `<name>_fen` column followed by `<name>_yuan`
    # gets the yuan text there too).
    also_summed: Sequence[str] = ()

    def total_rows(self, records: list[Record], empty: Any) -> list[list[Any]]:
        parts = [
            (s.title, part)
            for s in self.subtotals
            if (part := [r for r in records if s.includes(r)]) or not s.omit_when_empty
        ]
        included = self.total_includes
        parts.append((self.total_title, [r for r in records if included is None or included(r)]))
        return [self._total_line(title, part, empty) for title, part in parts]

    def _total_line(self, title: str, records: list[Record], empty: Any) -> list[Any]:
        total = sum(r[self.amount_key] for r in records)
        keys = [key for key, _ in self.columns]
        row = [empty] * len(keys)
        row[0], row[1] = title, f"{len(records)} 笔"
        at = keys.index(self.amount_key)
        row[at] = total
        if at + 1 < len(keys):
            row[at + 1] = yuan_text(total)
        for key in self.also_summed:
            at = keys.index(key)
            row[at] = sum(r[key] for r in records)
            if key.endswith("_fen") and at + 1 < len(keys) and keys[at + 1] == key[:-4] + "_yuan":
                row[at + 1] = yuan_text(row[at])
        return row

    def safe_rows(self, records: list[Record], empty: Any) -> list[list[Any]]:
        """Every row below the header, each cell through its column's rule (cell_rule)."""
        rules = [cell_rule(key) for key, _ in self.columns]
        rows = [[record[key] for key, _ in self.columns] for record in records]
        rows += self.total_rows(records, empty)
        return [[rule(value) for rule, value in zip(rules, row, strict=True)] for row in rows]

    def csv(self, records: list[Record]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([excel_safe(title) for _, title in self.columns])
        writer.writerows(self.safe_rows(records, ""))
        return ("\ufeff" + out.getvalue()).encode()  # BOM: Excel opens UTF-8 CSV correctly

    def xlsx(self, records: list[Record], *, title: str) -> bytes:
        from openpyxl import Workbook  # imported on use: only XLSX downloads need it
        from openpyxl.utils import get_column_letter

        book = Workbook(write_only=True)
        sheet = book.create_sheet(title=title[:31])
        for index, (key, _) in enumerate(self.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = self.widths.get(key, 12)
        sheet.freeze_panes = "A2"
        sheet.append([excel_safe(t) for _, t in self.columns])
        for row in self.safe_rows(records, None):
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
