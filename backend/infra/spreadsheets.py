"""The files staff download (booking files, settlement files): CSV that Excel opens, and XLSX.

Both carry a header row of Chinese column titles, one row per record and closing total lines:
optional subtotals over parts of the records (e.g. payments, refunds), then the total of all of
them. Each total line gives its title, its number of records, the fen total and the same total as
yuan text. Money stays integer fen; yuan appear only as text with two decimals. No cell can run as
a formula when the file is opened (excel_safe).
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

# What makes Excel (or LibreOffice) read a text cell as a formula; a plain signed number
# ("-250.00", a refund in yuan) is only a number.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")


def excel_safe(value: Any) -> Any:
    """A cell value Excel will not run: text that could start a formula (a name or a note from an
    import, say) gets a leading apostrophe; numbers, dates and ordinary text pass unchanged."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


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

    def csv(self, records: list[Record]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([title for _, title in self.columns])
        for record in records:
            writer.writerow([excel_safe(record[key]) for key, _ in self.columns])
        writer.writerows(self.total_rows(records, ""))
        return ("\ufeff" + out.getvalue()).encode()  # BOM: Excel opens UTF-8 CSV correctly

    def xlsx(self, records: list[Record], *, title: str) -> bytes:
        from openpyxl import Workbook  # imported on use: only XLSX downloads need it
        from openpyxl.utils import get_column_letter

        book = Workbook(write_only=True)
        sheet = book.create_sheet(title=title[:31])
        for index, (key, _) in enumerate(self.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = self.widths.get(key, 12)
        sheet.freeze_panes = "A2"
        sheet.append([t for _, t in self.columns])
        for record in records:
            sheet.append([excel_safe(record[key]) for key, _ in self.columns])
        for row in self.total_rows(records, None):
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
