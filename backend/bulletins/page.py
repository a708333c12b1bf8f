"""The bulletin's one A4 page, in millimetres from the top left: title and date, the summary,
a bar chart of the children's completion rates against 时序进度 (where an even pace would
stand) and the ranked table. Pure: drawing operations the posters' PDF painter paints
(backend.posters.layout, backend.posters.pdf), in the same two fonts.

Everything is sized to fit one page whatever the number of children: the chart's bars and the
table's rows share the space left under the summary.
"""

from __future__ import annotations

import re
from datetime import date

from backend.bulletins import compose
from backend.bulletins.compose import Figures
from backend.posters.layout import (
    GREY,
    INK,
    MM_PER_PT,
    PALE,
    RED,
    RULE,
    Box,
    Line,
    Op,
    Page,
    Text,
)
from backend.values.beijing import chinese_date

PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 210.0, 297.0, 15.0
RIGHT = PAGE_WIDTH - MARGIN
WIDTH = RIGHT - MARGIN
AHEAD = (52, 94, 145)  # a bar at or above 时序进度
BEHIND = (214, 118, 44)  # a bar below it
AVERAGE = (120, 120, 120)
SUMMARY_SIZE, SUMMARY_LEAD = 10.5, 6.0
CHART_HEIGHT = 62.0
FOOTER_RULE, FOOTER_BASELINE = 281.0, 287.0

# The PDF table: (row key, heading, width in mm); widths add up to WIDTH.
TABLE = (
    ("rank", "排名", 10.0),
    ("name", "地区", 26.0),
    ("registered", "登记参保", 16.0),
    ("paid_wechat", "微信自助", 15.0),
    ("paid_collector", "代征单位", 15.0),
    ("paid_school", "学校代缴", 15.0),
    ("paid_by_government", "政府代缴", 15.0),
    ("paid", "已缴合计", 16.0),
    ("rate", "完成率", 16.0),
    ("rate_change", "较上期(百分点)", 19.0),
    ("rank_change_text", "名次变化", 17.0),
)


def em_width(text: str) -> float:
    """Estimated width in ems: Chinese and full-width forms one em, digits (DejaVu Sans) about
    0.64. It errs wide, so a wrapped line never runs over; Text shrinks one that would."""
    total = 0.0
    for char in text:
        if ord(char) >= 0x2E80:
            total += 1.0
        elif char.isdigit():
            total += 0.64
        elif char in ".,:;":
            total += 0.33
        elif char == "%":
            total += 0.95
        else:
            total += 0.62
    return total


def wrap(text: str, size: float, width: float) -> list[str]:
    """Lines of at most `width` mm at `size` pt. A number (with its decimals and %) or a date is
    never split, a closing mark never starts a line and an opening one never ends it."""
    per_em = size * MM_PER_PT
    lines, line = [], ""
    for token in _TOKENS.findall(text):
        if line and em_width(line + token) * per_em > width and token[0] not in _CLOSING:
            # An opening mark goes down with what it opens.
            carried = line[-1] if line[-1] in _OPENING and len(line) > 1 else ""
            lines.append(line[: len(line) - len(carried)])
            line = carried
        line += token
    if line:
        lines.append(line)
    return lines


_TOKENS = re.compile(r"(?:\d+年)?\d+月\d+日|[0-9A-Za-z.%+\-]+|.", re.S)
_CLOSING = "，。、；：）”%"
_OPENING = "（“"


def page(figures: Figures, region_name: str) -> Page:
    ops: list[Op] = [
        Text(PAGE_WIDTH / 2, 26, 18, compose.title(figures, region_name), RED, True, True),
        Text(PAGE_WIDTH / 2, 34, 10.5, compose.subtitle(figures), GREY, True),
        Line(MARGIN, 38, RIGHT, 38, RED, 0.8),
    ]
    baseline = 47.0
    for line in wrap("　　" + compose.summary(figures), SUMMARY_SIZE, WIDTH):
        ops.append(Text(MARGIN, baseline, SUMMARY_SIZE, line, INK, max_width=WIDTH))
        baseline += SUMMARY_LEAD
    chart_top = baseline + 4
    ops += chart(figures, chart_top)
    ops += table(figures, chart_top + CHART_HEIGHT + 14)
    ops += footer(figures)
    return Page(shared=(), own=tuple(ops))


def chart(figures: Figures, top: float) -> list[Op]:
    """Bars of the children's rates (0 to 100%), the 时序进度 line in red and the region's own
    rate in grey; the heading line carries the legend."""
    children = figures["children"]
    called = compose.CHILDREN.get(figures["level"], "下级地区")
    schedule, average = figures["schedule_rate"], figures["region"]["rate"]
    whole = compose.WHOLE.get(figures["level"], "")
    ops: list[Op] = [Text(MARGIN, top + 4, 11, f"各{called}缴费完成率", INK, bold=True)]
    legend = [
        (RED, f"时序进度 {compose.percent(schedule)}"),
        (AVERAGE, f"{whole}平均 {compose.percent(average)}"),
        (BEHIND, "低于时序进度"),
    ]
    x = RIGHT
    for color, label in reversed(legend):
        x -= em_width(label) * 8 * MM_PER_PT
        ops.append(Text(x, top + 4, 8, label, GREY))
        x -= 7
        if color is BEHIND:
            ops.append(Box(x, top + 1.3, 5, 3, fill=color))
        else:
            ops.append(Line(x, top + 2.8, x + 5, top + 2.8, color, 0.7))
        x -= 4
    plot_top, plot_bottom = top + 10, top + 10 + CHART_HEIGHT - 12
    left = MARGIN + 11
    height = plot_bottom - plot_top
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = plot_bottom - tick * height
        ops.append(Line(left, y, RIGHT, y, RULE if tick else GREY, 0.2 if tick else 0.4))
        ops.append(Text(MARGIN, y + 1.2, 7.5, f"{tick * 100:.0f}%", GREY))
    slot = (RIGHT - left) / max(len(children), 1)
    bar = min(slot * 0.6, 12.0)
    labels: list[Op] = []
    for index, child in enumerate(children):
        middle = left + slot * (index + 0.5)
        h = child["rate"] * height
        color = AHEAD if child["rate"] >= schedule else BEHIND
        if h > 0:
            ops.append(Box(middle - bar / 2, plot_bottom - h, bar, h, fill=color))
        # The rate inside the bar's top where it fits, so the lines never cross it.
        label = f"{child['rate'] * 100:.1f}%"
        inside = h > 7
        baseline = plot_bottom - h + (3.6 if inside else -1.2)
        ink = (255, 255, 255) if inside else INK
        labels.append(Text(middle, baseline, 7, label, ink, True, max_width=slot))
        ops.append(Text(middle, plot_bottom + 5, 8, child["name"], INK, True, max_width=slot - 1))
    for rate, color, width in ((average, AVERAGE, 0.5), (schedule, RED, 0.7)):
        y = plot_bottom - rate * height
        ops.append(Line(left, y, RIGHT, y, color, width))
    return ops + labels


def table(figures: Figures, top: float) -> list[Op]:
    called = compose.CHILDREN.get(figures["level"], "下级地区")
    rows = compose.ranking_rows(figures)
    ops: list[Op] = [Text(MARGIN, top, 11, f"各{called}排名", INK, bold=True)]
    y = top + 3
    head = 7.0
    step = min(7.0, (FOOTER_RULE - 3 - y - head) / max(len(rows), 1))
    size = min(9.0, step / MM_PER_PT * 0.62)
    ops.append(Box(MARGIN, y, WIDTH, head, fill=PALE))
    x = MARGIN
    for _, heading, width in TABLE:
        ops.append(Text(x + width / 2, y + 4.9, 8.5, heading, INK, True, max_width=width - 1))
        x += width
    y += head
    for number, row in enumerate(rows):
        last = number == len(rows) - 1
        if last:
            ops.append(Box(MARGIN, y, WIDTH, step, fill=PALE))
        elif number % 2:
            ops.append(Box(MARGIN, y, WIDTH, step, fill=(247, 247, 247)))
        x = MARGIN
        for key, _, width in TABLE:
            text = _cell(key, row)
            color = _cell_color(key, row)
            baseline = y + step / 2 + size * MM_PER_PT * 0.36
            ops.append(Text(x + width / 2, baseline, size, text, color, True, last, width - 1))
            x += width
        y += step
        ops.append(Line(MARGIN, y, RIGHT, y, RULE, 0.2))
    ops.append(Box(MARGIN, top + 3, WIDTH, y - top - 3, stroke=GREY, line_width=0.3))
    return ops


def _cell(key: str, row: dict) -> str:
    value = row.get(key)
    if key == "rate":
        return compose.percent(value)
    if key == "rate_change":
        return compose.rate_change_text(value) if row.get("rank") is not None else ""
    if value is None:
        return ""
    return str(value)


def _cell_color(key: str, row: dict) -> tuple[int, int, int]:
    change = row.get("rate_change") if key == "rate_change" else row.get("rank_change")
    if key not in ("rate_change", "rank_change_text") or not change:
        return INK
    return (178, 29, 29) if change > 0 else (40, 120, 60)


def footer(figures: Figures) -> list[Op]:
    as_of = date.fromisoformat(figures["as_of"])
    note = (
        f"注：完成率＝已缴费人数÷登记参保人数（含政府代缴）；数据截至{chinese_date(as_of)}日终。"
        "时序进度按征缴期开始至目标日期匀速计算。"
        f"各{compose.CHILDREN.get(figures['level'], '下级地区')}下辖单位排名及进度滞后村名单见同期XLSX附表。"
    )
    return [
        Line(MARGIN, FOOTER_RULE, RIGHT, FOOTER_RULE, RULE, 0.3),
        *(
            Text(MARGIN, FOOTER_BASELINE + 4.2 * n, 7.5, line, GREY, max_width=WIDTH)
            for n, line in enumerate(wrap(note, 7.5, WIDTH))
        ),
    ]
