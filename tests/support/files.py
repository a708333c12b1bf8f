"""Import files for tests: CSV (with or without BOM, any encoding) and XLSX, from header + rows."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from backend.imports.rows import GROUP_COLUMNS, REGISTRATION_COLUMNS, STUDENT_COLUMNS
from tests.support.people import make_id_number
from tests.support.regions import VILLAGE, VILLAGE_2

# The formats of design.md section 7, as the importer declares them.
REGISTRATION_HEADER = REGISTRATION_COLUMNS
STUDENT_HEADER = STUDENT_COLUMNS
GROUP_HEADER = GROUP_COLUMNS


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    bom: bool = False,
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else encoding, newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)
    return path


def write_xlsx(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("登记")
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def registration(
    seq: int,
    *,
    scheme: str = "medical",
    period_year: int = 2020,
    village: str = VILLAGE,
    name: str | None = None,
    birth: str = "19800101",
    collection_no: str | None = None,
    household_no: str | None = None,
    phone: str = "",
    id_number: str | None = None,
) -> list[Any]:
    """A valid registrations row for person number `seq` (0..999)."""
    return [
        collection_no or f"{scheme[0].upper()}{period_year}{seq:06d}",
        id_number or make_id_number(area=village[:6], birth=birth, seq=f"{seq:03d}"),
        name or person_name(seq),
        scheme,
        period_year,
        village,
        household_no or f"H{seq:05d}",
        phone,
    ]


def person_name(seq: int) -> str:
    """A name import accepts (letters only): 7 -> 测试七, 12 -> 测试一二."""
    return "测试" + "".join("〇一二三四五六七八九"[int(d)] for d in str(seq))


def many_registrations(count: int) -> Iterable[list[Any]]:
    """`count` distinct people (up to ~700,000), one medical registration each, two villages."""
    for n in range(count):
        village = VILLAGE if n % 2 else VILLAGE_2
        birth = f"{1950 + n // 12000}{n // 1000 % 12 + 1:02d}{n // 100 % 10 + 10:02d}"
        yield [
            f"G{n:08d}",
            make_id_number(area=village[:6], birth=birth, seq=f"{n % 100:03d}"),
            person_name(n).replace("测试", "批量"),
            "medical",
            2020,
            village,
            f"H{n // 4:07d}",
            "",
        ]
