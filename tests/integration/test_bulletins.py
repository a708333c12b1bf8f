"""Progress bulletins (通报) over real HTTP and `flask bulletin`: a hand-built city of three
counties where every figure is known, the files opened the way a person would.

The rendered first pages are kept under var/test-output/bulletins/ to look at.
"""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pypdf
import pypdfium2
import pytest

from backend.auth.staff import create_staff
from backend.models import Region
from backend.posters.fonts import FontMissing
from backend.posters.service import typeface_of
from tests.support.builders import add_person, age_on_2019
from tests.support.outputs import output_dir
from tests.support.regions import OTHER_VILLAGE, VILLAGE, VILLAGE_2
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import run_worker, wait_until

URL = "/api/staff/v1/bulletins"
OUTPUT = output_dir("test-output", "bulletins")
# A third county, so the city ranks three: 卫辉市 城郊乡 东岗村.
WEIHUI = [
    ("410781000000", "卫辉市", "county", "410700000000"),
    ("410781100000", "城郊乡", "township", "410781000000"),
    ("410781100201", "东岗村", "village", "410781100000"),
]
WEIHUI_VILLAGE = WEIHUI[2][0]


@pytest.fixture(autouse=True)
def fonts_installed(app):
    try:
        typeface_of(app.config["APP_CONFIG"])
    except FontMissing as exc:
        pytest.fail(f"{exc} (make test installs it)")


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        for code, name, level, parent in WEIHUI:
            session.add(Region(code=code, name=name, level=level, parent_code=parent))
            session.flush()
        session.commit()
        yield session


@pytest.fixture
def people(session):
    """新乡县: three in 大召营村, one in 小召营村; 获嘉县: two in 东关村; 卫辉市: one in 东岗村.
    Each is registered for pension 2019 and medical 2020."""
    villages = [VILLAGE] * 3 + [VILLAGE_2] + [OTHER_VILLAGE] * 2 + [WEIHUI_VILLAGE]
    made = {}
    for n, village in enumerate(villages):
        _, regs = add_person(
            session, birth=age_on_2019(30 + n), seq=f"{n + 21:03d}", village=village
        )
        made[n] = {r.scheme: r.ref for r in regs}
    return made


def paid(http, live_server, wx, refs, user):
    auth = sign_in(http, live_server, wx, user)
    created = order(http, live_server, auth, refs).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, live_server, auth, created["order_no"]).json()["status"] == "paid"
    )


def first_week(http, live_server, wx, people):
    """新乡县 2 of 4 (大召营村 1 of 3, 小召营村 1 of 1), 获嘉县 2 of 2, 卫辉市 0 of 1."""
    medical = [people[n]["medical"] for n in range(7)]
    paid(http, live_server, wx, [medical[0], medical[3]], "xinxiang-family")
    paid(http, live_server, wx, medical[4:6], "huojia-family")


def staff(app, role="admin", region="410700", department=None, name=None):
    with app.extensions["db_sessions"]() as session:
        token = create_staff(
            session,
            name=name or f"{role}-{region}-{department}",
            role=role,
            region=region,
            actor="test",
            department=department,
        )
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def make(http, live_server, headers, **body):
    return http.post(live_server + URL, json=body, headers=headers)


def listed(http, live_server, headers, **params):
    answer = http.get(live_server + URL, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def workbook(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def table(sheet, header_row=3):
    """The sheet's records under its header row, as dicts, up to the first empty row."""
    rows = list(sheet.iter_rows(min_row=header_row, values_only=True))
    header, records = rows[0], []
    for values in rows[1:]:
        if values[0] is None and values[1] is None:
            break
        records.append(dict(zip(header, values, strict=True)))
    return records


def look_at(pdf: bytes, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    document = pypdfium2.PdfDocument(pdf)
    document[0].render(scale=80 / 72).to_pil().save(OUTPUT / name)
    print(f"bulletin page for a person to look at: {OUTPUT / name}")


def test_the_city_bulletin_ranks_its_counties_in_words_a_table_and_a_one_page_pdf(
    app, session, people, http, live_server, fake_wechat
):
    first_week(http, live_server, fake_wechat, people)
    admin = staff(app)
    answer = make(http, live_server, admin, scheme="medical", date="2019-11-20")
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert (made["region_code"], made["period_year"], made["as_of"]) == (
        "410700000000",
        2020,
        "2019-11-20",
    )
    # 7 registered, 4 paid; ten days to the medical target of 30 November, 3 left: 1 a day.
    assert made["summary"] == (
        "截至2019年11月20日，全市城乡居民基本医疗保险登记参保7人，已缴费4人，完成率57.14%。"
        "各县（市、区）完成率由高到低依次为获嘉县（100.00%）、新乡县（50.00%）、卫辉市（0.00%）；"
        "距11月30日目标还有10天，需日均缴费1人。"
    )

    book = workbook(http.get(live_server + made["xlsx_url"], headers=admin).content)
    assert book.sheetnames == ["区县排名", "获嘉县", "新乡县", "卫辉市", "进度滞后村"]
    ranking = table(book["区县排名"])
    assert [(r["排名"], r["地区"], r["登记参保人数"], r["已缴费合计"]) for r in ranking] == [
        (1, "获嘉县", 2, 2),
        (2, "新乡县", 4, 2),
        (3, "卫辉市", 1, 0),
        (None, "全市合计", 7, 4),
    ]
    assert ranking[1]["完成率"] == 0.5 and ranking[1]["微信自助人数"] == 2
    assert (ranking[1]["代征单位人数"], ranking[1]["学校代缴人数"], ranking[1]["政府代缴人数"]) == (
        0,
        0,
        0,
    )
    assert {r["名次变化"] for r in ranking[:3]} == {"—"}  # the first bulletin of the season
    assert [(r["排名"], r["地区"]) for r in table(book["新乡县"])] == [(1, "翟坡镇")]
    lagging = table(book["进度滞后村"])
    assert [(r["所在乡镇"], r["村（社区）"], r["完成率"]) for r in lagging] == [
        ("卫辉市城郊乡", "东岗村", 0),
        ("新乡县翟坡镇", "大召营村", 0.3333),
    ]

    pdf = http.get(live_server + made["pdf_url"], headers=admin)
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"] == (
        'attachment; filename="bulletin-4107-medical-20191120.pdf"'
    )
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 1
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=0.1)  # A4
    text = reader.pages[0].extract_text()
    for words in (
        "新乡市城乡居民基本医疗保险缴费进度通报",
        "截至2019年11月20日",
        "获嘉县",
        "全市合计",
    ):
        assert words in text, words
    fonts = _embedded_fonts(reader)
    assert any("DroidSansFallback" in name for name in fonts), fonts
    look_at(pdf.content, "medical-20191120.png")


def _embedded_fonts(reader: pypdf.PdfReader) -> list[str]:
    """Names of the fonts whose program is inside the file (FontFile2: TrueType)."""
    found = []
    for font in reader.pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        for descendant in font.get("/DescendantFonts", []):
            descriptor = descendant.get_object()["/FontDescriptor"].get_object()
            if "/FontFile2" in descriptor:
                found.append(str(descriptor["/FontName"]))
    return found


def test_the_next_bulletin_says_what_changed_and_making_a_day_again_replaces_it(
    app, session, people, http, live_server, fake_wechat, clock
):
    first_week(http, live_server, fake_wechat, people)
    admin = staff(app)
    first = make(http, live_server, admin, scheme="medical", date="2019-11-20").json()
    clock.advance(timedelta(days=1))
    paid(http, live_server, fake_wechat, [people[6]["medical"]], "weihui")  # 卫辉市 1 of 1
    second = make(http, live_server, admin, scheme="medical", date="2019-11-21").json()
    assert "完成率71.43%，较上期（11月20日）提高14.29个百分点。" in second["summary"]
    ranking = table(
        workbook(http.get(live_server + second["xlsx_url"], headers=admin).content)["区县排名"]
    )
    assert [(r["排名"], r["地区"], r["较上期（百分点）"], r["名次变化"]) for r in ranking[:3]] == [
        (1, "获嘉县", 0, "持平"),
        (1, "卫辉市", 100, "↑2"),  # equal rates share the rank
        (3, "新乡县", 0, "↓1"),
    ]

    again = make(http, live_server, admin, scheme="medical", date="2019-11-21").json()
    assert again["id"] == second["id"]
    found = listed(http, live_server, admin)
    assert [(b["id"], b["as_of"]) for b in found] == [
        (second["id"], "2019-11-21"),
        (first["id"], "2019-11-20"),
    ]


def test_flask_bulletin_writes_the_xlsx_and_the_pdf(app, session, people, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["bulletin", "--scheme", "pension", "--date", "2019-11-20", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    stem = "bulletin-4107-pension-20191120"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}.pdf", f"{stem}.xlsx"]
    assert len(pypdf.PdfReader(tmp_path / f"{stem}.pdf").pages) == 1
    assert workbook((tmp_path / f"{stem}.xlsx").read_bytes()).sheetnames[0] == "区县排名"
    # Pension 2019: its target (31 October) has passed, so the window's end is the deadline.
    assert "截至2019年11月20日，全市城乡居民基本养老保险登记参保7人，已缴费0人" in result.output
    assert "距12月31日征缴截止还有41天，需日均缴费1人。" in result.output


def test_the_worker_makes_both_bulletins_on_monday_once(
    app, session, people, http, live_server, clock
):
    assert "bulletins made" not in run_worker(app)  # Wednesday 20 November
    clock.advance(timedelta(days=5))  # Monday 25 November
    said = run_worker(app)
    assert "bulletins made: pension 2019 as of 2019-11-24, medical 2020 as of 2019-11-24" in said
    assert "bulletins made" not in run_worker(app)
    clock.advance(timedelta(days=1))
    assert "bulletins made" not in run_worker(app)
    found = listed(http, live_server, staff(app))
    assert [(b["scheme"], b["as_of"], b["created_by"]) for b in found] == [
        ("medical", "2019-11-24", "worker"),
        ("pension", "2019-11-24", "worker"),
    ]


def test_staff_read_the_bulletins_of_their_region_and_department_only(
    app, session, people, http, live_server
):
    admin = staff(app)
    city = {
        s: make(http, live_server, admin, scheme=s, date="2019-11-20").json()
        for s in ("pension", "medical")
    }
    county = make(http, live_server, admin, scheme="medical", date="2019-11-20", region="410721")
    assert county.status_code == 201, county.text
    county = county.json()

    def ids(headers):
        return {b["id"] for b in listed(http, live_server, headers)}

    hrss = staff(app, "viewer", "410700", "hrss")
    assert ids(hrss) == {city["pension"]["id"]}
    assert http.get(live_server + city["medical"]["pdf_url"], headers=hrss).status_code == 404
    nhsa_xinxiang = staff(app, "viewer", "410721", "nhsa")  # ranked by the city's bulletin
    assert ids(nhsa_xinxiang) == {city["medical"]["id"], county["id"]}
    huojia = staff(app, "viewer", "410724")
    assert ids(huojia) == {city["pension"]["id"], city["medical"]["id"]}
    assert http.get(live_server + county["xlsx_url"], headers=huojia).status_code == 404
    township = staff(app, "viewer", "410721100")
    assert len(ids(township)) == 3

    viewer = make(http, live_server, staff(app, "viewer", "410700"), scheme="medical")
    assert viewer.status_code == 403
    other_department = make(
        http, live_server, staff(app, "agency", "410700", "hrss"), scheme="medical"
    )
    assert other_department.status_code == 403 and "医疗保险" in other_department.json()["message"]
    other_county = make(
        http, live_server, staff(app, "agency", "410724"), scheme="medical", region="410721"
    )
    assert other_county.status_code == 404
    assert http.get(live_server + URL).status_code == 401
