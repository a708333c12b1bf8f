"""Paint a poster page into a PNG image (Pillow), A4 at 150 dpi by default (1240 × 1754).

The same font and layout as the PDF. What every poster of a collection shares is drawn once and
copied for each village; only the village's name, QR code and footer are drawn per image.
"""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw, ImageFont

from backend.posters.fonts import Typeface
from backend.posters.layout import (
    BOLD_STROKE,
    MM_PER_PT,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    Box,
    Disc,
    Line,
    Op,
    Page,
    QrCode,
    Text,
)

DPI = 150
PALETTE_SIZE = 64


class Painter:
    """Paints pages at one resolution with one font; keep it for a batch of villages."""

    def __init__(self, typeface: Typeface, dpi: int = DPI) -> None:
        self.typeface = typeface
        self.files = (str(typeface.cjk), str(typeface.latin))  # by font index
        self.width = round(PAGE_WIDTH / 25.4 * dpi)
        self.height = round(PAGE_HEIGHT / 25.4 * dpi)
        self.scale = self.width / PAGE_WIDTH  # pixels per millimetre
        self.dpi = dpi
        self._backgrounds: dict[tuple[Op, ...], Image.Image] = {}
        self._palettes: dict[tuple[Op, ...], Image.Image] = {}

    def image(self, page: Page) -> Image.Image:
        background = self._backgrounds.get(page.shared)
        if background is None:
            background = Image.new("RGB", (self.width, self.height), "white")
            draw = ImageDraw.Draw(background)
            for op in page.shared:
                self._paint(background, draw, op)
            self._backgrounds[page.shared] = background
        image = background.copy()
        draw = ImageDraw.Draw(image)
        for op in page.own:
            self._paint(image, draw, op)
        return image

    def png(self, page: Page) -> bytes:
        image = self.image(page)
        # An 8-bit palette image encodes three times faster than RGB and is a third of the size.
        # The palette comes from the first poster of a collection: every poster has the same
        # colours (and the same shades of their anti-aliased edges).
        palette = self._palettes.get(page.shared)
        if palette is None:
            palette = image.quantize(colors=PALETTE_SIZE, method=Image.Quantize.FASTOCTREE)
            self._palettes[page.shared] = palette
        indexed = image.quantize(palette=palette, dither=Image.Dither.NONE)
        out = io.BytesIO()
        indexed.save(out, format="PNG", compress_level=3, dpi=(self.dpi, self.dpi))
        return out.getvalue()

    @functools.lru_cache(maxsize=64)  # noqa: B019  (one painter per batch; it goes with it)
    def _font(self, which: int, pixels: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(self.files[which], pixels)

    def _px(self, mm: float) -> float:
        return mm * self.scale

    def _paint(self, image: Image.Image, draw: ImageDraw.ImageDraw, op: Op) -> None:
        if isinstance(op, Text):
            self._text(draw, op)
        elif isinstance(op, Box):
            box = [self._px(op.x), self._px(op.y), self._px(op.x + op.w), self._px(op.y + op.h)]
            width = max(1, round(self._px(op.line_width))) if op.stroke else 0
            draw.rectangle(box, fill=op.fill, outline=op.stroke, width=width)
        elif isinstance(op, Disc):
            cx, cy, r = self._px(op.cx), self._px(op.cy), self._px(op.r)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=op.fill)
        elif isinstance(op, Line):
            points = [self._px(op.x1), self._px(op.y1), self._px(op.x2), self._px(op.y2)]
            draw.line(points, fill=op.color, width=max(1, round(self._px(op.width))))
        elif isinstance(op, QrCode):
            self._qr(image, op)

    def _text(self, draw: ImageDraw.ImageDraw, op: Text) -> None:
        runs = self.typeface.runs(op.text)
        pixels = round(self._px(op.size * MM_PER_PT))
        width = sum(self._font(font, pixels).getlength(run) for font, run in runs)
        limit = self._px(op.max_width)
        if width > limit:
            pixels = int(pixels * limit / width)
        advances = [self._font(font, pixels).getlength(run) for font, run in runs]
        x = self._px(op.x) - (sum(advances) / 2 if op.centred else 0)
        # A PDF stroke is centred on the outline; Pillow strokes outwards only, in whole pixels.
        # Small bold type would get too heavy with a one-pixel stroke: it is struck twice, one
        # pixel apart, instead.
        stroke = round(pixels * BOLD_STROKE / 2) if op.bold else 0
        strikes = (0, 1) if op.bold and not stroke else (0,)
        for (font, run), advance in zip(runs, advances, strict=True):
            for shift in strikes:
                draw.text(
                    (x + shift, self._px(op.baseline)),
                    run,
                    fill=op.color,
                    font=self._font(font, pixels),
                    anchor="ls",
                    stroke_width=stroke,
                    stroke_fill=op.color if stroke else None,
                )
            x += advance

    def _qr(self, image: Image.Image, op: QrCode) -> None:
        count = len(op.matrix)
        module = max(1, int(self._px(op.size) / count))  # whole pixels: crisp edges
        code = Image.new("L", (count, count), 255)
        code.putdata([0 if dark else 255 for row in op.matrix for dark in row])
        code = code.resize((count * module, count * module), Image.Resampling.NEAREST)
        # Centred in the space the layout gave it.
        offset = (self._px(op.size) - count * module) / 2
        image.paste(code, (round(self._px(op.x) + offset), round(self._px(op.y) + offset)))
