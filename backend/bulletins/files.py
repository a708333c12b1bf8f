"""A bulletin's two files: the XLSX workbook (the ranking, one sheet per child with its own
children ranked, the lagging villages) and the one-page A4 PDF (painted by the posters' PDF
painter, in the posters' fonts, embedded).

Every text cell is safe to open in Excel: one that would start a formula (= + - @) is written
with a leading apostrophe, so a region's name can never run as one.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from backend.bulletins import compose, page
from backend.bulletins.compose import Column, Figures
from backend.infra.spreadsheets import excel_safe as safe
from backend.posters import pdf as painter
from backend.posters.fonts import Typeface

NUMBER_FORMATS = {"count": "0", "rate": "0.00%", "points": "+0.00;-0.00;0.00"}
SHEET_NAME_BANNED = str.maketrans({c: "_" for c in "[]:*?/\\"})
LAGGING_SHEET = "进度滞后村"


def pdf(figures: Figures, region_name: str, typeface: Typeface) -> bytes:
    title = compose.title(figures, region_name)
    return painter.document([page.page(figures, region_name)], typeface, title=title)


def xlsx(figures: Figures, region_name: str) -> bytes:
    from openpyxl import Workbook  # imported on use, as for the other downloads

    book = Workbook()
    first = book.active
    book.remove(first)
    heading = compose.title(figures, region_name)
    called = compose.CHILDREN.get(figures["level"], "下级地区")
    _sheet(
        book,
        compose.children_title(figures),
        (heading, compose.subtitle(figures)),
        compose.RANKING,
        compose.ranking_rows(figures),
        note=compose.summary(figures),
    )
    names: set[str] = {compose.children_title(figures), LAGGING_SHEET}
    for child in figures["children"]:
        name = _sheet_name(child["name"], child["code"], names)
        _sheet(
            book,
            name,
            (f"{child['name']}各{_parts_called(figures)}排名", compose.subtitle(figures)),
            compose.PARTS,
            figures["parts"].get(child["code"], []),
        )
    _sheet(
        book,
        LAGGING_SHEET,
        (
            f"{region_name}进度滞后村（完成率低于{compose.WHOLE.get(figures['level'], '')}平均）",
            compose.subtitle(figures),
        ),
        compose.LAGGING,
        figures["lagging"],
        note=f"按完成率由低到高排列；{called}排名见“{compose.children_title(figures)}”。",
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _parts_called(figures: Figures) -> str:
    """What the children's children are called: 乡镇 in a city's bulletin, 村 in a county's."""
    return {"city": "乡镇", "county": "村"}.get(figures["level"], "下级地区")


def _sheet_name(name: str, code: str, taken: set[str]) -> str:
    found = name.translate(SHEET_NAME_BANNED)[:31] or code
    if found in taken:
        found = f"{found[:18]}{code}"[:31]
    taken.add(found)
    return found


def _sheet(
    book,
    name: str,
    headings: Sequence[str],
    columns: Sequence[Column],
    rows: Sequence[dict],
    *,
    note: str | None = None,
) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title=name)
    span = len(columns)
    for number, text in enumerate(headings, start=1):
        sheet.append([safe(text)])
        sheet.merge_cells(start_row=number, start_column=1, end_row=number, end_column=span)
        cell = sheet.cell(number, 1)
        cell.font = Font(bold=number == 1, size=14 if number == 1 else 10)
        cell.alignment = Alignment(horizontal="center")
    sheet.append([column.title for column in columns])
    header = len(headings) + 1
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(header, index)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FCF2F0")
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    for row in rows:
        sheet.append([safe(row.get(column.key)) for column in columns])
        for index, column in enumerate(columns, start=1):
            if column.kind in NUMBER_FORMATS:
                sheet.cell(sheet.max_row, index).number_format = NUMBER_FORMATS[column.kind]
    sheet.freeze_panes = sheet.cell(header + 1, 1)
    if note:
        sheet.append([])
        sheet.append([safe(note)])
        at = sheet.max_row
        sheet.merge_cells(start_row=at, start_column=1, end_row=at, end_column=span)
        sheet.cell(at, 1).alignment = Alignment(wrap_text=True, vertical="top")
        sheet.row_dimensions[at].height = 60
