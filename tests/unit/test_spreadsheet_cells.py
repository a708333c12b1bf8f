"""Downloads open in Excel without running anything a name or a note smuggled in."""

from __future__ import annotations

import io

import openpyxl

from backend.infra.spreadsheets import Table, excel_safe, money_safe

TABLE = Table(
    columns=(("name", "姓名"), ("amount_fen", "金额（分）"), ("yuan", "金额（元）")),
    amount_key="amount_fen",
)


def test_text_that_would_start_a_formula_is_quoted_and_numbers_are_left_alone():
    assert excel_safe('=HYPERLINK("http://x","点我")') == '\'=HYPERLINK("http://x","点我")'
    assert excel_safe("@SUM(A1)") == "'@SUM(A1)"
    assert excel_safe("+86 123") == "'+86 123"
    assert excel_safe("-1") == "'-1"  # text that looks like a number is still text
    assert excel_safe("\r=1") == "'\r=1"
    assert money_safe("-250.00") == "-250.00"  # a refund in yuan, as yuan_text writes it
    assert money_safe("-1+1") == "'-1+1"
    assert excel_safe(-25000) == -25000
    assert excel_safe("张三") == "张三"


def test_csv_and_xlsx_carry_the_quoted_cell():
    records = [{"name": "=1+1", "amount_fen": 100, "yuan": "1.00"}]
    assert "'=1+1" in TABLE.csv(records).decode("utf-8-sig")
    sheet = openpyxl.load_workbook(io.BytesIO(TABLE.xlsx(records, title="t"))).active
    assert sheet["A2"].value == "'=1+1" and sheet["A2"].data_type == "s"
