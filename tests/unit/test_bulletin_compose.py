"""The bulletin's words and rows from figures known by hand (pure: no database, no files)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from backend.bulletins import compose, page
from backend.progress.figures import Counts, deadline_on, ranks

AS_OF = date(2019, 11, 18)
MEDICAL = deadline_on(AS_OF, target=date(2019, 11, 30), closes=date(2019, 12, 31))


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    counts: Counts
    needed_per_day: int = 0
    rank: int | None = None


def counties(*figures: tuple[str, int, int]) -> list[Place]:
    """(name, registered, paid by residents) per county, ranked as progress ranks them."""
    places = [
        Place(f"4107{n:02d}000000", name, Counts(registered, {"wechat_miniprogram": paid}))
        for n, (name, registered, paid) in enumerate(figures, start=11)
    ]
    ranking = ranks([(p.code, p.counts.completion_rate) for p in places])
    return sorted(
        (Place(p.code, p.name, p.counts, 0, ranking[p.code]) for p in places),
        key=lambda p: (p.rank, p.code),
    )


def bulletin(children, *, city: Counts, needed: int, previous=None, deadline=MEDICAL):
    return compose.figures(
        region=Place("410700000000", "新乡市", city, needed),
        level="city",
        scheme="medical",
        period_year=2020,
        as_of=AS_OF,
        rolled_day=AS_OF,
        deadline=deadline,
        schedule=compose.schedule_rate(AS_OF, opens=date(2019, 9, 1), target=date(2019, 11, 30)),
        children=children,
        parts={},
        lagging=[],
        previous=previous,
    )


SIX = counties(
    ("新乡县", 1000, 950),
    ("获嘉县", 800, 720),
    ("辉县市", 2000, 1700),
    ("卫辉市", 1000, 800),
    ("长垣市", 400, 300),
    ("原阳县", 500, 350),
)
CITY = Counts(5700, {"wechat_miniprogram": 4750, "government": 70})


def test_the_summary_names_the_first_three_and_the_last_three_with_what_the_deadline_takes():
    figures = bulletin(SIX, city=CITY, needed=74)
    assert compose.summary(figures) == (
        "截至2019年11月18日，全市城乡居民基本医疗保险登记参保5700人，已缴费4820人"
        "（其中微信自助缴费4750人、政府代缴70人），完成率84.56%。各县（市、区）中，新乡县（95.00%）、获嘉县（90.00%）、"
        "辉县市（85.00%）完成率排名前三，卫辉市（80.00%）、长垣市（75.00%）、原阳县（70.00%）排名靠后；"
        "距11月30日目标还有12天，需日均缴费74人。"
    )


def test_the_summary_and_the_ranking_count_each_way_of_paying():
    city = Counts(
        5700,
        {
            "wechat_miniprogram": 3000,
            "wechat_qr": 750,
            "collector": 900,
            "school": 100,
            "government": 70,
        },
    )
    figures = bulletin(SIX, city=city, needed=74)
    assert (
        "已缴费4820人（其中微信自助缴费3750人、代征单位收缴900人、学校代缴100人、政府代缴70人）"
        in (compose.summary(figures))
    )
    total = compose.ranking_rows(figures)[-1]
    assert (total["paid_wechat"], total["paid_collector"], total["paid_school"]) == (3750, 900, 100)
    assert total["paid_by_government"] == 70
    titles = [column.title for column in compose.RANKING]
    assert titles[3:7] == ["微信自助人数", "代征单位人数", "学校代缴人数", "政府代缴人数"]
    # Residents paying through one way only: nothing to break down.
    only_wechat = bulletin(SIX, city=Counts(5700, {"wechat_qr": 4820}), needed=74)
    assert "其中" not in compose.summary(only_wechat)


def test_the_change_since_the_previous_bulletin_is_in_points_and_places():
    before = bulletin(
        counties(("新乡县", 1000, 900), ("获嘉县", 800, 760)), city=Counts(1800), needed=0
    )
    before["region"]["rate"], before["as_of"] = 0.8, "2019-11-11"
    now = bulletin(
        counties(("新乡县", 1000, 950), ("获嘉县", 800, 760)),
        city=Counts(1800, {"wechat_miniprogram": 1710}),
        needed=8,
        previous=before,
    )
    assert "完成率95.00%，较上期（11月11日）提高15.00个百分点。" in compose.summary(now)
    assert "各县（市、区）完成率均为95.00%；" in compose.summary(now)
    rows = compose.ranking_rows(now)
    assert [(r["name"], r["rank"], r["rate_change"], r["rank_change_text"]) for r in rows] == [
        ("新乡县", 1, 5.0, "↑1"),  # equal rates share the rank, in code order
        ("获嘉县", 1, 0.0, "持平"),
        ("全市合计", None, None, ""),
    ]


def test_after_the_target_the_deadline_is_the_end_of_the_window_and_a_done_city_says_so():
    after = deadline_on(date(2019, 12, 2), target=date(2019, 11, 30), closes=date(2019, 12, 31))
    late = bulletin(SIX, city=CITY, needed=31, deadline=after)
    assert compose.summary(late).endswith("距12月31日征缴截止还有29天，需日均缴费31人。")
    done = bulletin(SIX[:1], city=Counts(10, {"wechat_qr": 10}), needed=0)
    assert compose.summary(done) == (
        "截至2019年11月18日，全市城乡居民基本医疗保险登记参保10人，已缴费10人，完成率100.00%。"
        "已全部完成缴费。"
    )


def test_schedule_rate_is_the_share_of_the_season_to_the_target_gone():
    opens, target = date(2019, 9, 1), date(2019, 11, 30)
    assert compose.schedule_rate(date(2019, 11, 20), opens=opens, target=target) == 0.8901
    assert compose.schedule_rate(date(2019, 12, 5), opens=opens, target=target) == 1.0
    assert compose.schedule_rate(date(2019, 8, 1), opens=opens, target=target) == 0.0


def test_a_wrapped_line_never_splits_a_number_or_strands_a_bracket():
    text = "甲" * 20 + "（67.29%）、乙"
    for width in range(20, 120, 3):
        lines = page.wrap(text, 10.5, width)
        assert "".join(lines) == text
        assert not any(line.endswith("（") or line.startswith(("）", "%")) for line in lines)
        assert any("67.29%" in line for line in lines), lines


def test_a_date_stays_on_one_line():
    for width in range(30, 90, 2):
        lines = page.wrap("距" * 9 + "距11月30日目标还有10天", 10.5, width)
        assert any("11月30日" in line for line in lines), lines


def test_counties_all_at_the_same_rate_are_not_ranked_in_words():
    level = counties(("新乡县", 100, 0), ("获嘉县", 80, 0), ("辉县市", 90, 0), ("卫辉市", 70, 0))
    text = compose.summary(bulletin(level, city=Counts(340), needed=34))
    assert "各县（市、区）完成率均为0.00%；距11月30日目标还有12天，需日均缴费34人。" in text
