"""The words and the layout of a village QR poster: pure, from region names and the policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import qrcode

from backend.fees import PolicyBook
from backend.posters import content, layout
from backend.posters.fonts import CJK, LATIN, Typeface
from backend.posters.layout import PAGE_HEIGHT, PAGE_WIDTH, QrCode, Text

NAMES = ("新乡市", "新乡县", "翟坡镇", "大召营村")


def collection() -> content.Collection:
    window, policies = PolicyBook.load().collection("410721100201", 2019)
    return content.collection(window, policies)


def poster(code: str = "410721100201", names=NAMES) -> content.Poster:
    village = content.Village(code, names)
    return content.Poster(village, content.village_url("https://sb.example/", code), collection())


def test_the_schemes_show_their_names_period_years_amounts_and_deadlines():
    found = collection()
    assert found.schemes == (
        content.SchemeLine(
            "城乡居民基本养老保险", "2019年度", "200–5000元，15档自选", "2019年10月31日"
        ),
        content.SchemeLine("城乡居民基本医疗保险", "2020年度", "每人250元", "2019年11月30日"),
    )
    assert found.window == "2019年9月1日至2019年12月31日"


def test_the_lowest_grade_kept_for_special_groups_is_not_offered_to_everyone():
    pension = PolicyBook.load().scheme_policy("410721100201", "pension", 2019)
    assert pension.grades[0].special_only and pension.grades[0].yuan == 100
    assert content.scheme_line(pension).amount.startswith("200–")
    one_grade = replace(pension, grades=pension.grades[1:2])
    assert content.scheme_line(one_grade).amount == "每人200元"
    odd_share = replace(PolicyBook.load().scheme_policy("410721", "medical", 2020), share_fen=25050)
    assert content.scheme_line(odd_share).amount == "每人250.50元"


def test_a_village_has_its_full_name_and_its_own_address():
    found = poster()
    assert found.village.full_name == "新乡市 新乡县 翟坡镇 大召营村"
    assert found.village.place == "新乡市 新乡县 翟坡镇"
    assert found.url == "https://sb.example/q/410721100201"  # no double slash
    assert "410721100201" in found.footer and "村委会" in found.footer
    assert content.chinese_date(date(2019, 9, 1)) == "2019年9月1日"


def test_the_qr_matrix_is_that_of_the_address():
    matrix = content.qr_matrix("https://sb.example/q/410721100201")
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=0)
    code.add_data("https://sb.example/q/410721100201")
    code.make(fit=True)
    assert [list(row) for row in matrix] == code.get_matrix()
    assert len(matrix) == len(matrix[0]) and (len(matrix) - 21) % 4 == 0  # a QR version's size


def test_villages_share_everything_but_their_name_code_and_qr():
    one = layout.page(poster())
    two = layout.page(poster("410721100202", (*NAMES[:3], "小召营村")))
    assert one.shared == two.shared
    texts = [op.text for op in two.own if isinstance(op, Text)]
    assert "小召营村" in texts and "新乡市 新乡县 翟坡镇" in texts
    assert any(isinstance(op, QrCode) for op in two.own)
    assert one.own != two.own


def test_everything_lies_on_the_page_and_the_qr_code_is_large():
    page = layout.page(poster())
    for op in (*page.shared, *page.own):
        if isinstance(op, Text):
            assert op.size >= 10
            assert 0 < op.baseline < PAGE_HEIGHT
            left = op.x - op.max_width / 2 if op.centred else op.x
            assert left >= 0 and left + op.max_width <= PAGE_WIDTH
        if isinstance(op, QrCode):
            assert op.size >= 70  # millimetres: scannable from a step back
            assert op.x >= 0 and op.x + op.size <= PAGE_WIDTH


def test_text_is_cut_into_runs_for_the_font_that_has_the_characters():
    typeface = Typeface(Path("cjk.ttf"), Path("latin.ttf"), frozenset(map(ord, "年月日村代码 ")))
    assert typeface.runs("2019年10月31日") == [
        (LATIN, "2019"),
        (CJK, "年"),
        (LATIN, "10"),
        (CJK, "月"),
        (LATIN, "31"),
        (CJK, "日"),
    ]
    assert typeface.runs("村代码 410721") == [(CJK, "村代码 "), (LATIN, "410721")]
    assert typeface.runs("") == []
