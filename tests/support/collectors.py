"""The collector channel as its users reach it: staff calls over HTTP, the list XLSX read and
filled in, the fake bureau's controls."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook, load_workbook

BATCHES = "/api/staff/v1/collector-batches"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_batch(http, base: str, headers) -> dict[str, Any]:
    answer = http.post(base + BATCHES, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def record(http, base: str, headers, batch_no: str, **body):
    return http.post(f"{base}{BATCHES}/{batch_no}/items", json=body, headers=headers)


def batch(http, base: str, headers, batch_no: str) -> dict[str, Any]:
    answer = http.get(f"{base}{BATCHES}/{batch_no}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def act(http, base: str, headers, batch_no: str, action: str):
    """close or cancel."""
    return http.post(f"{base}{BATCHES}/{batch_no}/{action}", headers=headers)


def download_list(http, base: str, headers, scheme: str, period_year: int) -> bytes:
    answer = http.get(
        base + "/api/staff/v1/collector-list",
        params={"scheme": scheme, "period_year": period_year},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return answer.content


def sheet_rows(content: bytes) -> list[dict[str, Any]]:
    """The list's rows, by column title."""
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def filled(content: bytes, marks: dict[str, Any]) -> bytes:
    """The list with 本次收缴 filled in for the collection_nos in `marks`, as a collector saves
    it back from Excel."""
    source = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = [list(row) for row in source.iter_rows(values_only=True)]
    at_no, at_mark = rows[0].index("征集流水号"), rows[0].index("本次收缴")
    book = Workbook()
    sheet = book.active
    sheet.append(rows[0])
    for row in rows[1:]:
        row[at_mark] = marks.get(row[at_no], row[at_mark])
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(http, base: str, headers, batch_no: str, content: bytes, name="名单.xlsx"):
    return http.post(
        f"{base}{BATCHES}/{batch_no}/upload", files={"file": (name, content)}, headers=headers
    )
