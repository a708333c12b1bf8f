"""The receipt on A4 paper: drawn with the posters' operations and painter (backend/posters), so
it is set in the same embedded fonts and its QR code is vector, sharp at any print size.

The paper is a snapshot: it says its standing when printed, and its QR code leads to the page
that says the standing now.
"""

from __future__ import annotations

from datetime import datetime

from backend.posters import pdf
from backend.posters.content import qr_matrix
from backend.posters.fonts import Typeface
from backend.posters.layout import (
    CENTRE,
    CONTENT_WIDTH,
    GREY,
    INK,
    MARGIN,
    PAGE_WIDTH,
    PALE,
    RED,
    RULE,
    WHITE,
    Box,
    Line,
    Op,
    Page,
    QrCode,
    Text,
)
from backend.receipts.facts import ReceiptFacts
from backend.receipts.wording import CHECK_HINT, SCAN_HINT, TITLE, Headline, lines
from backend.values.beijing import beijing_text

TONES = {"ok": (26, 127, 55), "warn": (179, 89, 0), "bad": RED}
ROW, ROW_TIGHT = 11.0, 10.0
FOOTER_RULE = 280.0
BELOW_QR = 22.5  # the scan hint, the address and the check hint under the QR code
LABEL_WIDTH = 48.0
QR_SIZE = 60.0


def receipt_pdf(
    facts: ReceiptFacts, head: Headline, url: str, now: datetime, typeface: Typeface
) -> bytes:
    return pdf.document([Page((), tuple(_ops(facts, head, url, now)))], typeface, title=TITLE)


def _ops(facts: ReceiptFacts, head: Headline, url: str, now: datetime) -> list[Op]:
    ops: list[Op] = [
        Box(0, 0, PAGE_WIDTH, 30, fill=RED),
        Text(CENTRE, 19.5, 24, TITLE, WHITE, centred=True, bold=True),
    ]
    tone = TONES[head.tone]
    ops.append(Box(MARGIN, 38, CONTENT_WIDTH, 14, fill=PALE))
    ops.append(Text(MARGIN + 3, 47.5, 13, "打印时状态", GREY, max_width=LABEL_WIDTH - 4))
    ops.append(
        Text(
            MARGIN + LABEL_WIDTH,
            47.8,
            18,
            head.word,
            tone,
            bold=True,
            max_width=CONTENT_WIDTH - LABEL_WIDTH - 3,
        )
    )
    top = 60.0
    ops.append(Line(MARGIN, top, MARGIN + CONTENT_WIDTH, top, RULE, 0.4))
    rows = lines(facts)
    row = ROW if len(rows) <= 11 else ROW_TIGHT  # a refunded receipt has two lines more
    for label, value in rows:
        baseline = top + row / 2 + 1.9
        ops.append(Text(MARGIN + 3, baseline, 13, label, GREY, max_width=LABEL_WIDTH - 4))
        ops.append(
            Text(
                MARGIN + LABEL_WIDTH,
                baseline,
                14,
                value,
                INK,
                bold=True,
                max_width=CONTENT_WIDTH - LABEL_WIDTH - 3,
            )
        )
        top += row
        ops.append(Line(MARGIN, top, MARGIN + CONTENT_WIDTH, top, RULE, 0.3))
    top += 10
    # The QR code takes what room is left above the footer, up to QR_SIZE.
    size = min(QR_SIZE, FOOTER_RULE - 4 - BELOW_QR - top)
    ops.append(QrCode(CENTRE - size / 2, top, size, qr_matrix(url)))
    top += size + 9
    ops.append(Text(CENTRE, top, 14, SCAN_HINT, RED, centred=True, bold=True))
    top += 6.5
    ops.append(Text(CENTRE, top, 8, url, GREY, centred=True))
    top += 7
    ops.append(Text(CENTRE, top, 11, CHECK_HINT, GREY, centred=True))
    ops.append(Line(MARGIN, FOOTER_RULE, MARGIN + CONTENT_WIDTH, FOOTER_RULE))
    ops.append(
        Text(
            CENTRE,
            287,
            10,
            f"本凭证由城乡居民两险缴费系统签发，扫码结果以系统当前记录为准 · "
            f"打印时间 {beijing_text(now)}（北京时间）",
            GREY,
            centred=True,
        )
    )
    return ops
