"""Every file staff download opens in Excel without running a formula a collection number or a
name smuggled in, while money stays numbers (a refund's -3500 fen, its -35.00 yuan)."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from backend.collectors import roster
from backend.finance import report
from backend.ledger import export
from backend.recon import settlement
from backend.values.money import yuan_text

HOSTILE = ('=HYPERLINK("http://x","y")', "@SUM(1)", "+1", "-1+1", "\tx")
REFUND_FEN = -3500


def _records(columns, numeric: set[str]) -> list[dict]:
    """Records whose every text column holds one of HOSTILE and whose money is a refund."""
    records = []
    for n in range(len(HOSTILE)):
        record = {}
        for i, key in enumerate(columns):
            if key in numeric or key.endswith("_fen"):
                record[key] = REFUND_FEN
            elif key.endswith("_yuan"):
                record[key] = yuan_text(REFUND_FEN)
            else:
                record[key] = HOSTILE[(i + n) % len(HOSTILE)]
        records.append(record)
    return records


def _assert_safe(cells: list, *, numbers_typed: bool) -> None:
    texts = [c for c in cells if isinstance(c, str)]
    for hostile in HOSTILE:
        assert "'" + hostile in texts
        assert hostile not in texts
    assert yuan_text(REFUND_FEN) in texts  # the yuan amount reads as -35.00, not '-35.00
    if numbers_typed:
        assert REFUND_FEN in cells


TABLES = {
    "settlement": settlement.TABLE,
    "ledger export": export.TABLE,
    "finance report": report.TABLE,
}


@pytest.mark.parametrize("name", TABLES)
def test_a_download_never_carries_a_formula_and_keeps_money_numeric(name):
    table = TABLES[name]
    keys = [key for key, _ in table.columns]
    numeric = {table.amount_key, *table.also_summed}
    records = _records(keys, numeric)

    text = table.csv(records).decode("utf-8-sig")
    _assert_safe([c for row in csv.reader(io.StringIO(text)) for c in row], numbers_typed=False)
    assert str(REFUND_FEN) in text.split(",")

    sheet = openpyxl.load_workbook(io.BytesIO(table.xlsx(records, title=name))).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    _assert_safe([c.value for c in cells], numbers_typed=True)


def test_the_collector_roster_never_carries_a_formula():
    keys = [key for key, _, _ in roster.COLUMNS]
    listed = roster.Roster("t", "410721", "410721", _records(keys, {"period_year"}))
    sheet = openpyxl.load_workbook(io.BytesIO(roster.xlsx(listed))).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    _assert_safe([c.value for c in cells], numbers_typed=True)
