"""A bulletin's content from progress figures: the ranked rows, the changes since the previous
bulletin, the summary paragraph and the title. Pure: plain data in, plain data out.

The figures are kept as JSON-ready dicts (they are stored with the bulletin), so the next
bulletin reads the ranks and rates of this one without recomputing it:

    {"region": ROW, "level": "city", "scheme": "medical", "period_year": 2020,
     "as_of": "2019-11-18", "rolled_day": "2019-11-18" | None, "previous_as_of": ... | None,
     "deadline": {"date": "2019-11-30", "days_left": 12, "is_target": true},
     "schedule_rate": 0.8681,             # the share of the season to the target already gone
     "children": [ROW + rank_change, rate_change, ...],   # ranked, best first
     "parts": {child code: [ROW, ...]},    # each child's own children, ranked
     "lagging": [ROW + "place", ...]}      # villages furthest behind, lowest first

ROW: code, name, registered, paid_by_resident, paid_wechat, paid_collector, paid_school,
paid_by_government, paid, outstanding, rate, rank, needed_per_day (paid_wechat, paid_collector and
paid_school are absent from bulletins made before the collector and school channels). A rate is paid / registered (0 to 1, 4 decimals); a rate change is in
percentage points (2 decimals); a rank change is places gained (positive: moved up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from backend.orders.channels import COLLECTOR, SCHOOL, WECHAT
from backend.progress.figures import Counts, Deadline
from backend.values.beijing import chinese_date
from backend.values.labels import SCHEME_NAMES

Row = dict[str, Any]
Figures = dict[str, Any]

# What a region is called as a whole (全市) and what its children are called, by its level.
WHOLE = {"city": "全市", "county": "全县", "township": "全镇"}
CHILDREN = {"city": "县（市、区）", "county": "乡镇", "township": "村"}
TOP = 3  # the summary names the first three and the last three
CHINESE_COUNT = {1: "一", 2: "两", 3: "三"}


class Place(Protocol):
    """A region's figures as progress.query gives them."""

    code: str
    name: str
    counts: Counts
    needed_per_day: int
    rank: int | None


def row(place: Place) -> Row:
    counts = place.counts
    return {
        "code": place.code,
        "name": place.name,
        "registered": counts.registered,
        "paid_by_resident": counts.paid_by_resident,
        "paid_wechat": counts.paid_by_group[WECHAT],
        "paid_collector": counts.paid_by_group[COLLECTOR],
        "paid_school": counts.paid_by_group[SCHOOL],
        "paid_by_government": counts.paid_by_government,
        "paid": counts.paid,
        "outstanding": counts.outstanding,
        "rate": counts.completion_rate,
        "rank": place.rank,
        "needed_per_day": place.needed_per_day,
    }


def schedule_rate(day: date, *, opens: date, target: date) -> float:
    """时序进度: the share of the days from the window's opening to the target gone by the end
    of `day` (1 once the target has passed): where a region on an even pace would stand."""
    if day < opens:
        return 0.0
    total = (target - opens).days + 1
    return round(min((day - opens).days + 1, total) / total, 4)


def figures(
    *,
    region: Place,
    level: str,
    scheme: str,
    period_year: int,
    as_of: date,
    rolled_day: date | None,
    deadline: Deadline,
    schedule: float,
    children: Sequence[Place],
    parts: Mapping[str, Sequence[Place]],
    lagging: Sequence[tuple[Place, str]],
    previous: Figures | None,
) -> Figures:
    """The bulletin's figures; `previous` is the figures of the last bulletin before it (same
    region, scheme and period year), which the changes are measured from. `lagging` pairs each
    village with where it lies (新乡县翟坡镇)."""
    before = {r["code"]: r for r in previous["children"]} if previous else {}
    return {
        "region": row(region),
        "level": level,
        "scheme": scheme,
        "period_year": period_year,
        "as_of": as_of.isoformat(),
        "rolled_day": rolled_day.isoformat() if rolled_day else None,
        "previous_as_of": previous["as_of"] if previous else None,
        "previous_rate": previous["region"]["rate"] if previous else None,
        "deadline": {
            "date": deadline.deadline.isoformat(),
            "days_left": deadline.days_left,
            "is_target": deadline.deadline == deadline.target,
        },
        "schedule_rate": schedule,
        "children": [_with_change(row(child), before.get(child.code)) for child in children],
        "parts": {code: [row(p) for p in found] for code, found in parts.items()},
        "lagging": [{**row(village), "place": where} for village, where in lagging],
    }


def _with_change(current: Row, before: Row | None) -> Row:
    if before is None:
        return {**current, "rate_change": None, "rank_change": None}
    return {
        **current,
        "rate_change": points(current["rate"] - before["rate"]),
        "rank_change": before["rank"] - current["rank"],
    }


def points(rate_difference: float) -> float:
    """A difference of rates in percentage points, 2 decimals (0.025 → 2.5)."""
    return round(rate_difference * 100, 2)


# --- words --------------------------------------------------------------------------------------


def percent(rate: float) -> str:
    """0.6667 → '66.67%'."""
    return f"{rate * 100:.2f}%"


def rate_change_text(change: float | None) -> str:
    """'+2.50', '-1.00', '0.00'; '—' when there was no previous bulletin."""
    if change is None:
        return "—"
    return f"{change:+.2f}" if change else "0.00"


def rank_change_text(change: int | None) -> str:
    """'↑2', '↓1', '持平'; '—' when there was no previous bulletin."""
    if change is None:
        return "—"
    if change > 0:
        return f"↑{change}"
    if change < 0:
        return f"↓{-change}"
    return "持平"


def month_day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def title(figures: Figures, region_name: str) -> str:
    """'新乡市城乡居民基本医疗保险缴费进度通报'."""
    return f"{region_name}{SCHEME_NAMES[figures['scheme']]}缴费进度通报"


def subtitle(figures: Figures) -> str:
    """'2020年度 · 截至2019年11月18日'."""
    as_of = date.fromisoformat(figures["as_of"])
    return f"{figures['period_year']}年度　截至{chinese_date(as_of)}"


def summary(figures: Figures) -> str:
    """The paragraph leaders read first: where the region stands, who leads and who lags, and
    what it takes to make the deadline. Every number comes from the figures."""
    return _standing(figures) + "。" + _ranking(figures) + _deadline(figures) + "。"


def _standing(figures: Figures) -> str:
    region = figures["region"]
    as_of = date.fromisoformat(figures["as_of"])
    text = (
        f"截至{chinese_date(as_of)}，{WHOLE.get(figures['level'], '')}"
        f"{SCHEME_NAMES[figures['scheme']]}登记参保{region['registered']}人，"
        f"已缴费{region['paid']}人"
    )
    text += _by_channel(region)
    text += f"，完成率{percent(region['rate'])}"
    if figures["previous_as_of"] is not None:
        before = date.fromisoformat(figures["previous_as_of"])
        change = points(region["rate"] - figures["previous_rate"])
        if change > 0:
            moved = f"提高{change:.2f}个百分点"
        elif change < 0:
            moved = f"下降{-change:.2f}个百分点"
        else:
            moved = "持平"
        text += f"，较上期（{month_day(before)}）{moved}"
    return text


# How the summary names each way of paying, in the order it lists them.
_PAID_BY = (
    ("paid_wechat", "微信自助缴费"),
    ("paid_collector", "代征单位收缴"),
    ("paid_school", "学校代缴"),
    ("paid_by_government", "政府代缴"),
)


def _by_channel(region: Row) -> str:
    """'（其中微信自助缴费a人、代征单位收缴b人、政府代缴c人）': the ways people paid, once more
    than one way was used (a bulletin made before the channels were counted names the
    government's share only)."""
    used = [(title, region[key]) for key, title in _PAID_BY if region.get(key)]
    if not used or (len(used) == 1 and used[0][0] != "政府代缴"):
        return ""
    return "（其中" + "、".join(f"{title}{n}人" for title, n in used) + "）"


def _ranking(figures: Figures) -> str:
    """'各县（市、区）中，A（…）、B（…）、C（…）排名前三，D（…）、E（…）、F（…）排名靠后；'.

    With three children or fewer all are named in order; with one, there is nothing to rank.
    """
    children = figures["children"]
    called = CHILDREN.get(figures["level"], "下级地区")
    if len(children) < 2:
        return ""
    if len({child["rate"] for child in children}) == 1:
        return f"各{called}完成率均为{percent(children[0]['rate'])}；"
    if len(children) <= TOP:
        return f"各{called}完成率由高到低依次为{_named(children)}；"
    # Ranks are shared on equal rates, so "the first three" may be more than three names.
    top = [child for child in children if child["rank"] <= TOP]
    rest = children[len(top) :]
    text = f"各{called}中，{_named(top)}完成率排名前{CHINESE_COUNT[TOP]}"
    if rest:
        text += f"，{_named(rest[-TOP:])}排名靠后"
    return text + "；"


def _named(rows: Sequence[Row]) -> str:
    return "、".join(f"{r['name']}（{percent(r['rate'])}）" for r in rows)


def _deadline(figures: Figures) -> str:
    region = figures["region"]
    deadline = figures["deadline"]
    day = month_day(date.fromisoformat(deadline["date"]))
    what = "目标" if deadline["is_target"] else "征缴截止"
    if region["outstanding"] == 0:
        return "已全部完成缴费" if region["registered"] else "尚无登记参保人员"
    if deadline["days_left"] == 0:
        return f"已到{day}{what}日期，尚有{region['outstanding']}人未缴费"
    return f"距{day}{what}还有{deadline['days_left']}天，需日均缴费{region['needed_per_day']}人"


# --- tables -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: float  # XLSX characters
    kind: str = "text"  # text, count, rate, points


RANKING = (
    Column("rank", "排名", 6, "count"),
    Column("name", "地区", 14),
    Column("registered", "登记参保人数", 12, "count"),
    Column("paid_wechat", "微信自助人数", 12, "count"),
    Column("paid_collector", "代征单位人数", 12, "count"),
    Column("paid_school", "学校代缴人数", 12, "count"),
    Column("paid_by_government", "政府代缴人数", 12, "count"),
    Column("paid", "已缴费合计", 11, "count"),
    Column("rate", "完成率", 10, "rate"),
    Column("rate_change", "较上期（百分点）", 15, "points"),
    Column("rank_change_text", "名次变化", 10),
    Column("needed_per_day", "需日均缴费人数", 14, "count"),
)
PARTS = tuple(c for c in RANKING if c.key not in ("rate_change", "rank_change_text"))
LAGGING = (
    Column("place", "所在乡镇", 22),
    Column("name", "村（社区）", 16),
    Column("code", "村代码", 15),
    Column("registered", "登记参保人数", 12, "count"),
    Column("paid", "已缴费人数", 11, "count"),
    Column("outstanding", "未缴费人数", 11, "count"),
    Column("rate", "完成率", 10, "rate"),
)


def ranking_rows(figures: Figures) -> list[Row]:
    """The children, best first, with the region's own line (合计) last."""
    rows = [
        {**r, "rank_change_text": rank_change_text(r["rank_change"])} for r in figures["children"]
    ]
    total = {**figures["region"], "name": f"{WHOLE.get(figures['level'], '')}合计", "rank": None}
    return [*rows, {**total, "rate_change": None, "rank_change_text": ""}]


def children_title(figures: Figures) -> str:
    """'区县排名' for a city's bulletin, '乡镇排名' for a county's."""
    return {"city": "区县排名", "county": "乡镇排名"}.get(figures["level"], "排名")
