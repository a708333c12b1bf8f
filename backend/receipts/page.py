"""The receipt's page at /r/<token>: plain server-written HTML for a phone, no script.

Its one inline style is allowed by its hash (backend.infra.headers.style_policy); the QR code is
inline SVG, drawn from the same module matrix as the posters'. Every value written is escaped.
"""

from __future__ import annotations

import html
from datetime import datetime

from backend.posters.content import qr_matrix
from backend.receipts.facts import ReceiptFacts
from backend.receipts.wording import (
    CHECK_HINT,
    FORGED_HEADLINE,
    FORGED_TEXT,
    SCAN_HINT,
    TITLE,
    Headline,
    lines,
)
from backend.values.beijing import beijing_text

STYLE = """
body { font-family: -apple-system, "PingFang SC", "Noto Sans CJK SC", "Droid Sans Fallback", sans-serif;
  margin: 0; background: #f2f2f2; color: #222; }
.band { color: #fff; padding: 20px 18px 18px; }
.ok { background: #1a7f37; } .warn { background: #b35900; } .bad { background: #b21d1d; }
.kicker { margin: 0; font-size: 15px; opacity: .9; letter-spacing: 1px; }
h1 { margin: 6px 0 8px; font-size: 30px; }
.band p.say { margin: 0; font-size: 16px; line-height: 1.6; }
main { background: #fff; margin: 12px; border-radius: 10px; padding: 6px 16px 16px; }
dl { margin: 0; display: grid; grid-template-columns: auto 1fr; }
dt, dd { padding: 10px 0; border-bottom: 1px solid #eee; font-size: 16px; }
dt { color: #666; padding-right: 14px; white-space: nowrap; }
dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.qr { text-align: center; margin: 18px 0 6px; }
.qr svg { width: 200px; height: 200px; }
.qr p { color: #666; font-size: 14px; margin: 6px 0 0; }
.pdf { display: block; text-align: center; margin: 14px 0 4px; padding: 12px; border-radius: 8px;
  background: #07c160; color: #fff; text-decoration: none; font-size: 17px; }
.note { color: #777; font-size: 13px; line-height: 1.6; margin: 12px 16px 24px; }
"""

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>{style}</style></head>
<body>
<header class="band {tone}"><p class="kicker">{kicker}</p><h1>{word}</h1><p class="say">{say}</p></header>
{main}
<p class="note">{note}</p>
</body></html>
"""


def receipt_page(facts: ReceiptFacts, head: Headline, url: str, pdf_url: str, now: datetime) -> str:
    rows = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>"
        for label, value in lines(facts)
    )
    main = (
        f"<main><dl>{rows}</dl>"
        f'<div class="qr">{qr_svg(url)}<p>{SCAN_HINT}</p></div>'
        f'<a class="pdf" href="{html.escape(pdf_url)}">下载 A4 缴费凭证（PDF）</a></main>'
    )
    note = (
        f"核验时间 {beijing_text(now)}（北京时间）。本页按系统当前记录显示这笔缴费的状态，"
        f"退款或冲正后会立即显示。{CHECK_HINT}"
    )
    return _PAGE.format(
        title=f"缴费凭证 · {html.escape(head.word)}",
        style=STYLE,
        tone=head.tone,
        kicker=TITLE,
        word=html.escape(("✓ " if head.tone == "ok" else "") + head.word),
        say=html.escape(head.text),
        main=main,
        note=note,
    )


def forged_page(now: datetime) -> str:
    note = f"核验时间 {beijing_text(now)}（北京时间）。"
    return _PAGE.format(
        title=f"缴费凭证 · {FORGED_HEADLINE}",
        style=STYLE,
        tone="bad",
        kicker=TITLE,
        word="✗ " + FORGED_HEADLINE,
        say=html.escape(FORGED_TEXT),
        main="",
        note=note,
    )


def qr_svg(data: str) -> str:
    """The QR code of `data` as an SVG path (one unit per module, a 4-module quiet zone)."""
    matrix = qr_matrix(data)
    size = len(matrix) + 8
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append(f"M{start + 4} {y + 4}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'role="img" aria-label="凭证二维码" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
