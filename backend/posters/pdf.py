"""Paint poster pages into one PDF (fpdf2): A4 portrait, one page per village.

The two TrueType fonts are added once per document and fpdf2 embeds only the glyphs used (with
a ToUnicode map, so the text can be searched and copied). The QR code is vector: one filled path
per code, its dark modules as rectangles merged along each row, sharp at any print size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fpdf import FPDF
from fpdf.drawing import PaintedPath
from fpdf.enums import PathPaintRule

from backend.posters.fonts import Typeface
from backend.posters.layout import BOLD_STROKE, MM_PER_PT, Box, Disc, Line, Op, Page, QrCode, Text

# fontTools reports every subsetting step at INFO; that is noise in our logs.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FAMILIES = ("poster-cjk", "poster-latin")  # by font index (fonts.CJK, fonts.LATIN)


def document(pages: Iterable[Page], typeface: Typeface, *, title: str = "") -> bytes:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.set_creator("contrib-collect")
    if title:
        pdf.set_title(title)
    pdf.add_font(FAMILIES[0], fname=str(typeface.cjk))
    pdf.add_font(FAMILIES[1], fname=str(typeface.latin))
    painter = _Painter(pdf, typeface)
    for page in pages:
        pdf.add_page()
        for op in (*page.shared, *page.own):
            painter.paint(op)
    return bytes(pdf.output())


class _Painter:
    def __init__(self, pdf: FPDF, typeface: Typeface) -> None:
        self.pdf = pdf
        self.typeface = typeface
        # Where each run of a text goes: measured once, then reused on every page that has it.
        self._set: dict[Text, tuple[float, list[tuple[str, str, float]]]] = {}

    def paint(self, op: Op) -> None:
        pdf = self.pdf
        if isinstance(op, Text):
            self._text(op)
        elif isinstance(op, Box):
            style = ("F" if op.fill else "") + ("D" if op.stroke else "")
            if op.fill:
                pdf.set_fill_color(*op.fill)
            if op.stroke:
                pdf.set_draw_color(*op.stroke)
                pdf.set_line_width(op.line_width)
            pdf.rect(op.x, op.y, op.w, op.h, style=style)
        elif isinstance(op, Disc):
            pdf.set_fill_color(*op.fill)
            pdf.circle(op.cx, op.cy, op.r, style="F")
        elif isinstance(op, Line):
            pdf.set_draw_color(*op.color)
            pdf.set_line_width(op.width)
            pdf.line(op.x1, op.y1, op.x2, op.y2)
        elif isinstance(op, QrCode):
            _qr(pdf, op)

    def _typeset(self, op: Text) -> tuple[float, list[tuple[str, str, float]]]:
        """The size (shrunk to fit max_width) and (font family, run, x) of each run."""
        pdf = self.pdf
        runs = [(FAMILIES[font], run) for font, run in self.typeface.runs(op.text)]

        def widths(size: float) -> list[float]:
            found = []
            for family, run in runs:
                pdf.set_font(family, size=size)
                found.append(pdf.get_string_width(run))
            return found

        size = op.size
        width = sum(widths(size))
        if width > op.max_width:
            size *= op.max_width / width
        advances = widths(size)
        x = op.x - sum(advances) / 2 if op.centred else op.x
        placed = []
        for (family, run), advance in zip(runs, advances, strict=True):
            placed.append((family, run, x))
            x += advance
        return size, placed

    def _text(self, op: Text) -> None:
        pdf = self.pdf
        if op not in self._set:
            self._set[op] = self._typeset(op)
        size, placed = self._set[op]
        pdf.set_text_color(*op.color)
        # Text rendering mode is graphics state that outlives the text: keep it inside q ... Q.
        with pdf.local_context(**_bold(op.color, size) if op.bold else {}):
            for family, run, x in placed:
                pdf.set_font(family, size=size)
                pdf.text(x, op.baseline, run)


def _bold(color: tuple[int, int, int], size: float) -> dict[str, object]:
    return {
        "text_mode": "FILL_STROKE",
        "draw_color": color,
        "line_width": size * BOLD_STROKE * MM_PER_PT,
    }


def _qr(pdf: FPDF, op: QrCode) -> None:
    module = op.size / len(op.matrix)
    path = PaintedPath()
    path.style.fill_color = "#000000"
    path.style.stroke_color = None
    path.style.paint_rule = PathPaintRule.FILL_NONZERO
    for row, modules in enumerate(op.matrix):
        start = None
        for col, dark in enumerate((*modules, False)):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                x, y = op.x + start * module, op.y + row * module
                path.rectangle(x, y, (col - start) * module, module)
                start = None
    # The path is ours alone: no defensive deep copy (it costs more than all the rest).
    pdf.draw_path(path, copy=False)
