"""Where everything goes on an A4 poster, in millimetres from the top left corner.

A page is a list of plain drawing operations (text on a baseline, boxes, discs, lines, the QR
code) that pdf.py and png.py both paint, so the PDF and the PNG look alike. The operations are
split in two: those every village of a collection shares (title, schemes, steps) and those of
one village (its name, QR code, footer), so the PNG painter can draw the shared part once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from backend.posters.content import (
    AID_NOTE,
    HEADLINE,
    SCAN_HINT,
    STEPS,
    TITLE,
    Collection,
    Poster,
    qr_matrix,
)

PAGE_WIDTH = 210.0
PAGE_HEIGHT = 297.0
MARGIN = 15.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
CENTRE = PAGE_WIDTH / 2
MM_PER_PT = 25.4 / 72
# CJK glyphs sit on the baseline and rise about 0.88 em: their middle is this far above it.
CJK_MIDDLE = 0.38
DIGIT_MIDDLE = 0.36
# Faux bold (the fonts have no bold face): the outline is stroked as well as filled, with a pen
# this fraction of the type size wide.
BOLD_STROKE = 0.045

Color = tuple[int, int, int]
RED: Color = (178, 29, 29)
INK: Color = (28, 28, 28)
GREY: Color = (96, 96, 96)
RULE: Color = (200, 200, 200)
PALE: Color = (252, 242, 240)
WHITE: Color = (255, 255, 255)


@dataclass(frozen=True)
class Text:
    x: float  # left edge, or middle when centred
    baseline: float
    size: float  # points
    text: str
    color: Color = INK
    centred: bool = False
    bold: bool = False
    max_width: float = CONTENT_WIDTH  # shrunk to fit when longer


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    fill: Color | None = None
    stroke: Color | None = None
    line_width: float = 0.3


@dataclass(frozen=True)
class Disc:
    cx: float
    cy: float
    r: float
    fill: Color


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    color: Color = RULE
    width: float = 0.3


@dataclass(frozen=True)
class QrCode:
    x: float
    y: float
    size: float
    matrix: tuple[tuple[bool, ...], ...]


Op = Text | Box | Disc | Line | QrCode


@dataclass(frozen=True)
class Page:
    shared: tuple[Op, ...]  # the same on every poster of a collection
    own: tuple[Op, ...]  # this village's


# The vertical plan (millimetres from the top).
HEADER_BOTTOM = 40.0
PLACE_BASELINE = 51.0
VILLAGE_BASELINE = 69.0
# The QR code keeps about four modules of white around it (its quiet zone).
QR_TOP, QR_SIZE = 82.0, 76.0
SCAN_BASELINE = 172.0
TABLE_TOP, TABLE_HEAD, TABLE_ROW = 178.0, 9.0, 10.5
STEPS_TITLE_GAP, STEP_GAP = 12.0, 8.2
FOOTER_RULE, FOOTER_BASELINE = 282.0, 289.0

# The schemes table: (heading, left edge, width) per column.
COLUMNS = (
    ("险种", MARGIN, 54.0),
    ("缴费年度", MARGIN + 54.0, 26.0),
    ("个人缴费", MARGIN + 80.0, 60.0),
    ("缴费截止", MARGIN + 140.0, 40.0),
)


def _baseline_in(top: float, height: float, size: float) -> float:
    """The baseline that centres a line of CJK text of `size` points in a band."""
    return top + height / 2 + CJK_MIDDLE * size * MM_PER_PT


@functools.lru_cache(maxsize=64)
def shared_ops(collection: Collection) -> tuple[Op, ...]:
    ops: list[Op] = [
        Box(0, 0, PAGE_WIDTH, HEADER_BOTTOM, fill=RED),
        Text(CENTRE, 14.5, 22, "　".join(TITLE), WHITE, centred=True),
        Text(CENTRE, 33.0, 44, HEADLINE, WHITE, centred=True, bold=True),
        Text(CENTRE, SCAN_BASELINE, 18, SCAN_HINT, RED, centred=True, bold=True),
    ]

    # The schemes table: a red heading row, then one row per scheme.
    ops.append(Box(MARGIN, TABLE_TOP, CONTENT_WIDTH, TABLE_HEAD, fill=RED))
    for heading, left, width in COLUMNS:
        baseline = _baseline_in(TABLE_TOP, TABLE_HEAD, 12)
        ops.append(Text(left + width / 2, baseline, 12, heading, WHITE, True, True, width - 3))
    top = TABLE_TOP + TABLE_HEAD
    for line in collection.schemes:
        ops.append(Box(MARGIN, top, CONTENT_WIDTH, TABLE_ROW, fill=PALE))
        cells = (line.label, line.period, line.amount, line.deadline)
        for cell, (_, left, width) in zip(cells, COLUMNS, strict=True):
            baseline = _baseline_in(top, TABLE_ROW, 13)
            bold = cell is line.label or cell is line.deadline
            ops.append(
                Text(left + width / 2, baseline, 13, cell, INK, True, bold, max_width=width - 3)
            )
        top += TABLE_ROW
        ops.append(Line(MARGIN, top, MARGIN + CONTENT_WIDTH, top, WHITE, 0.6))
    for _, left, _ in COLUMNS[1:]:
        ops.append(Line(left, TABLE_TOP + TABLE_HEAD, left, top, WHITE, 0.6))

    top += 7.0
    ops.append(Text(MARGIN, top, 13, f"收缴时间：{collection.window}，请在各险种截止日期前缴费"))
    top += 6.5
    ops.append(Text(MARGIN, top, 11.5, AID_NOTE, GREY))

    top += STEPS_TITLE_GAP
    ops.append(Text(MARGIN, top, 16, "缴费步骤", RED, bold=True))
    top += 2.0
    for number, step in enumerate(STEPS, start=1):
        top += STEP_GAP
        middle = top - CJK_MIDDLE * 15 * MM_PER_PT
        ops.append(Disc(MARGIN + 3.4, middle, 3.3, RED))
        digit_baseline = middle + DIGIT_MIDDLE * 12 * MM_PER_PT
        ops.append(Text(MARGIN + 3.4, digit_baseline, 12, str(number), WHITE, True, True, 6))
        ops.append(Text(MARGIN + 10, top, 15, step, max_width=CONTENT_WIDTH - 10))

    ops.append(Line(MARGIN, FOOTER_RULE, MARGIN + CONTENT_WIDTH, FOOTER_RULE))
    return tuple(ops)


def own_ops(poster: Poster) -> tuple[Op, ...]:
    village = poster.village
    return (
        Text(CENTRE, PLACE_BASELINE, 20, village.place, GREY, centred=True),
        Text(CENTRE, VILLAGE_BASELINE, 44, village.name, INK, centred=True, bold=True),
        QrCode(CENTRE - QR_SIZE / 2, QR_TOP, QR_SIZE, qr_matrix(poster.url)),
        Text(CENTRE, FOOTER_BASELINE, 11, poster.footer, GREY, centred=True),
    )


def page(poster: Poster) -> Page:
    return Page(shared_ops(poster.collection), own_ops(poster))
