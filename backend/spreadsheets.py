"""The files staff download (booking files, settlement files): CSV that Excel opens, and XLSX.

Both carry a header row of Chinese column titles, one row per record and a closing total line
(number of records; the fen total and the same total as yuan text). Money stays integer fen;
yuan appear only as text with two decimals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def yuan_text(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@dataclass(frozen=True)
class Table:
    columns: Sequence[tuple[str, str]]  # (record key, column title)
    amount_key: str  # the fen column the total line adds up
    widths: dict[str, int] = field(default_factory=dict)  # XLSX column widths by key

    def total_row(self, records: list[dict[str, Any]], empty: Any) -> list[Any]:
        total = sum(r[self.amount_key] for r in records)
        keys = [key for key, _ in self.columns]
        row = [empty] * len(keys)
        row[0], row[1] = "合计", f"{len(records)} 笔"
        at = keys.index(self.amount_key)
        row[at] = total
        if at + 1 < len(keys):
            row[at + 1] = yuan_text(total)
        return row

    def csv(self, records: list[dict[str, Any]]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([title for _, title in self.columns])
        for record in records:
            writer.writerow([record[key] for key, _ in self.columns])
        writer.writerow(self.total_row(records, ""))
        return ("\ufeff" + out.getvalue()).encode()  # BOM: Excel opens UTF-8 CSV correctly

    def xlsx(self, records: list[dict[str, Any]], *, title: str) -> bytes:
        from openpyxl import Workbook  # imported on use: only XLSX downloads need it
        from openpyxl.utils import get_column_letter

        book = Workbook(write_only=True)
        sheet = book.create_sheet(title=title[:31])
        for index, (key, _) in enumerate(self.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = self.widths.get(key, 12)
        sheet.freeze_panes = "A2"
        sheet.append([t for _, t in self.columns])
        for record in records:
            sheet.append([record[key] for key, _ in self.columns])
        sheet.append(self.total_row(records, None))
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
