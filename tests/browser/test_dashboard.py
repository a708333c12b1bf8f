"""The staff dashboard in a real browser (Debian's Chromium, headless, through Playwright): a
leader signs in and drills down from the city to a village's printable unpaid list, with every
chart drawn and no console error under the pages' strict CSP; a county account stays inside its
county; a form without its CSRF token is refused; an agency makes a bulletin (通报) and reads the
finance totals (财政配套). Screenshots: var/screenshots/dashboard-*.png."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.conftest import SKIP_REASON, watch_for_problems
from tests.support.builders import add_person, age_on_2019
from tests.support.dashboard import staff_account
from tests.support.regions import OTHER_COUNTY, OTHER_VILLAGE, VILLAGE, VILLAGE_2
from tests.support.resident import get_order, order, pay
from tests.support.resident import sign_in as resident_sign_in
from tests.support.running import run_worker, wait_until

if SKIP_REASON:
    pytest.skip(SKIP_REASON, allow_module_level=True)

from playwright.sync_api import expect  # only once the package is known to be there

DESK = {"width": 1280, "height": 900}
# Pixels a drawn chart has painted at least (axes, labels, a line or bars).
PAINTED = 2000
PAINTED_PIXELS = """() => Array.from(document.querySelectorAll('.chart')).map(chart => {
  const canvas = chart.querySelector('canvas');
  if (!canvas) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i]) painted++;
  return painted;
})"""


@pytest.fixture
def season(app, with_regions, live_server, fake_wechat, clock, http):
    """Seven people over two counties; payments on two days, each day rolled."""
    with app.extensions["db_sessions"]() as session:
        people = [
            add_person(
                session,
                name=name,
                birth=age_on_2019(30 + n),
                seq=f"{n + 11:03d}",
                village=village,
            )[1]
            for n, (name, village) in enumerate(
                [
                    ("王秀英", VILLAGE),
                    ("李建国", VILLAGE),
                    ("张桂兰", VILLAGE),
                    ("赵志强", VILLAGE),
                    ("刘亚楠", VILLAGE_2),
                    ("陈晓东", VILLAGE_2),
                    ("孙丽娟", OTHER_VILLAGE),
                ]
            )
        ]
    refs = [{r.scheme: r.ref for r in regs} for regs in people]
    _pay(http, live_server, fake_wechat, [refs[0]["medical"], refs[0]["pension"]], "day-one")
    _pay(http, live_server, fake_wechat, [refs[6]["medical"]], "far-away")
    run_worker(app)
    clock.advance(timedelta(days=1))
    _pay(http, live_server, fake_wechat, [refs[4]["medical"], refs[5]["medical"]], "day-two")
    _pay(http, live_server, fake_wechat, [refs[1]["pension"]], "day-two-pension")
    run_worker(app)
    return refs


def _pay(http, live_server, wx, refs, user):
    auth = resident_sign_in(http, live_server, wx, user)
    created = order(http, live_server, auth, refs).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, live_server, auth, created["order_no"]).json()["status"] == "paid"
    )


@pytest.fixture
def desk(browser, live_server, screenshot_dir, request):
    """A desktop browser on the dashboard; fails the test on any page or console error."""
    context = browser.new_context(
        viewport=DESK, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=live_server
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = watch_for_problems(page)
    words = [w for w in request.node.name.split("_")[1:] if w not in ("a", "an", "the")]
    prefix = "dashboard-" + "_".join(words[:2])
    counter = iter(range(1, 100))

    def shot(name: str):
        path = screenshot_dir / f"{prefix}-{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    page.shot = shot  # type: ignore[attr-defined]
    yield page
    context.close()
    assert not problems, problems


def sign_in(page, name, token):
    page.goto("/staff/")
    expect(page.locator("h1")).to_have_text("工作人员登录")
    page.fill("#name", name)
    page.fill("#token", token)
    page.click("#sign-in")


def expect_charts_drawn(page, count):
    expect(page.locator(".chart canvas")).to_have_count(count)
    page.wait_for_function(f"({PAINTED_PIXELS})().every(n => n > {PAINTED})")
    assert all(n > PAINTED for n in page.evaluate(PAINTED_PIXELS))


def test_a_leader_drills_down_from_the_city_to_a_village_and_prints_its_unpaid_list(
    desk, app, season, screenshot_dir
):
    token = staff_account(app, "leader-city", "admin", "410700")
    desk.goto("/staff/")
    expect(desk.locator(".help")).to_contain_text("令牌就是账号的密钥")
    desk.shot("sign-in")
    sign_in(desk, "leader-city", token)

    expect(desk.locator("#region-name")).to_have_text("总览 · 新乡市 市")
    # Two schemes, each with its completion over time and its counties ranked.
    expect_charts_drawn(desk, 4)
    medical = desk.locator("section[data-scheme=medical]")
    expect(medical.locator(".completion")).to_have_text("57.14%")  # 4 of 7
    expect(medical.locator("table.ranking tbody tr").first).to_contain_text("获嘉县")
    desk.shot("overview-city")

    medical.get_by_role("link", name="新乡县").click()
    expect(desk.locator("#region-name")).to_contain_text("新乡县")
    expect_charts_drawn(desk, 4)
    desk.shot("county")
    desk.locator("section[data-scheme=medical]").get_by_role("link", name="翟坡镇").click()
    expect(desk.locator("#region-name")).to_contain_text("翟坡镇")
    expect_charts_drawn(desk, 4)
    expect(
        desk.locator("section[data-scheme=medical] table.ranking tbody tr").nth(1)
    ).to_contain_text("大召营村")
    desk.shot("township")

    # The township as it stood on the first day: one payment in 大召营村.
    desk.fill("#date", "2019-11-20")
    desk.click("#day-form button")
    expect(desk.locator("section[data-scheme=medical] .completion")).to_have_text("16.67%")
    expect_charts_drawn(desk, 4)
    desk.shot("township-first-day")

    desk.locator("section[data-scheme=medical]").get_by_role("link", name="大召营村").first.click()
    expect(desk.locator("#region-name")).to_contain_text("大召营村")
    expect_charts_drawn(desk, 2)  # a village has no children to rank
    desk.shot("village")

    desk.click("#unpaid-link")
    expect(desk.locator("#unpaid-title")).to_have_text(
        "新乡市 新乡县 翟坡镇 大召营村 未缴费人员名单"
    )
    rows = desk.locator("#unpaid-list tbody tr")
    # Four people × two schemes, less 王秀英's two and 李建国's pension.
    expect(rows).to_have_count(5)
    expect(desk.locator("#unpaid-list")).to_contain_text("李*")
    expect(desk.locator("#unpaid-list")).not_to_contain_text("李建国")
    expect(desk.locator("#unpaid-list")).not_to_contain_text("王*")
    desk.shot("unpaid")

    # Printed: the list alone, on A4.
    desk.emulate_media(media="print")
    expect(desk.locator(".topbar")).to_be_hidden()
    expect(desk.locator("#print")).to_be_hidden()
    desk.shot("unpaid-print")
    pdf = screenshot_dir / "dashboard-unpaid-a4.pdf"
    desk.pdf(path=str(pdf), format="A4", prefer_css_page_size=True)
    from pypdf import PdfReader

    printed = PdfReader(str(pdf))
    assert len(printed.pages) == 1
    width, height = printed.pages[0].mediabox.width, printed.pages[0].mediabox.height
    assert (round(float(width)), round(float(height))) == (595, 842)  # A4 in points
    desk.emulate_media(media="screen")

    desk.click("text=运营")
    expect(desk.locator("#settlement")).to_contain_text("新乡县")
    expect(desk.locator("#outbox-pending")).to_be_visible()
    desk.shot("operations")

    desk.click("#sign-out")
    expect(desk.locator(".notice")).to_have_text("您已退出登录。")
    desk.goto("/staff/operations")
    expect(desk.locator("h1")).to_have_text("工作人员登录")


def test_a_county_account_cannot_open_another_countys_pages(desk, app, season):
    token = staff_account(app, "agency-xinxiang", "agency", "410721")
    sign_in(desk, "agency-xinxiang", token)
    expect(desk.locator("#region-name")).to_have_text("总览 · 新乡县 县（市、区）")
    expect_charts_drawn(desk, 4)
    expect(desk.locator(".nav")).not_to_contain_text("运营")
    for outside in (OTHER_COUNTY, OTHER_VILLAGE):
        answer = desk.goto(f"/staff/regions/{outside}")
        assert answer.status == 404
        expect(desk.locator("#error-message")).to_contain_text("不在您的管辖范围内")
    desk.shot("other-county-404")
    assert desk.goto(f"/staff/regions/{OTHER_VILLAGE}/unpaid").status == 404
    assert desk.goto("/staff/operations").status == 403


def test_a_form_without_its_csrf_token_and_a_wrong_token_are_refused(desk, app, with_regions):
    token = staff_account(app, "viewer-xinxiang", "viewer", "410721")
    desk.goto("/staff/login")
    desk.fill("#name", "viewer-xinxiang")
    desk.fill("#token", "wrong")
    desk.click("#sign-in")
    expect(desk.locator("#login-error")).to_contain_text("账号或令牌不正确")
    desk.shot("wrong-token")

    desk.fill("#name", "viewer-xinxiang")
    desk.fill("#token", token)
    desk.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    desk.click("#sign-in")
    expect(desk.locator("#error-message")).to_contain_text("缺少防伪令牌")
    desk.shot("csrf-refused")
    desk.goto("/staff/")
    expect(desk.locator("h1")).to_have_text("工作人员登录")  # not signed in


@pytest.fixture
def subsidised(app, season, live_server, fake_wechat, http, staff_token):
    """Beside the season: in 新乡县 a 低保 person who paid the 200 grade and a 特困 person the
    government paid for (a confirmed pension batch)."""
    with app.extensions["db_sessions"]() as session:
        _, dibao = add_person(
            session, name="周桂芳", birth=age_on_2019(46), seq="031", groups=("dibao",)
        )
        add_person(session, name="吴建华", birth=age_on_2019(52), seq="032", groups=("tekun",))
    _pay(http, live_server, fake_wechat, [(dibao[0].ref, 200)], "dibao")
    agency = {"Authorization": f"Bearer {staff_token('agency', '410721', 'batch-agency')}"}
    batches = live_server + "/api/staff/v1/government-batches"
    body = {"county": "410721", "scheme": "pension", "period_year": 2019}
    batch = http.post(batches, json=body, headers=agency).json()
    http.post(f"{batches}/{batch['batch_no']}/confirm", headers=agency).raise_for_status()
    return batch["batch_no"]


def test_an_agency_makes_a_bulletin_and_reads_the_finance_totals(
    desk, app, subsidised, screenshot_dir
):
    token = staff_account(app, "agency-xinxiang", "agency", "410721")
    sign_in(desk, "agency-xinxiang", token)
    # A county's overview is its county page, with its government-paid batches.
    batch = desk.locator(f"#government-batches tr[data-batch={subsidised}]")
    expect(batch).to_contain_text("已确认")
    expect_charts_drawn(desk, 4)
    desk.shot("county-batches")

    desk.locator(".nav").get_by_role("link", name="通报").click()
    expect(desk.locator("#no-bulletins")).to_be_visible()
    for scheme in ("pension", "medical"):
        desk.select_option("#make-scheme", scheme)
        desk.click("#make-submit")
        expect(desk.locator(".notice").first).to_contain_text("已生成新乡县")
    made = desk.locator("article.bulletin")
    expect(made).to_have_count(2)
    expect(desk.locator("article.bulletin.fresh")).to_contain_text("2020年度医疗保险")
    expect(desk.locator("article.bulletin.fresh .summary")).to_contain_text(
        "全县城乡居民基本医疗保险"
    )
    with desk.expect_download() as download:
        desk.locator("article.bulletin.fresh").get_by_role("link", name="下载 PDF").click()
    assert download.value.suggested_filename.startswith("bulletin-410721-medical-")
    desk.fill("#make-date", "2030-01-01")
    desk.evaluate("document.querySelector('#make-date').removeAttribute('max')")
    desk.click("#make-submit")
    expect(desk.locator("#make-error")).to_contain_text("尚未到来")
    desk.shot("bulletin-refused")
    desk.goto("/staff/bulletins")
    desk.screenshot(path=str(screenshot_dir / "dashboard-bulletins.png"), full_page=True)

    desk.locator(".nav").get_by_role("link", name="财政配套").click()
    expect(desk.locator("#finance-title")).to_have_text("财政配套 · 新乡县 2019年度养老保险")
    expect(desk.locator("#finance-table tbody tr")).to_have_count(3)
    expect(desk.locator("#finance-total")).to_contain_text("200.00")
    desk.screenshot(path=str(screenshot_dir / "dashboard-finance.png"), full_page=True)
    with desk.expect_download() as download:
        desk.click("#finance-xlsx")
    assert download.value.suggested_filename == "finance-410721-pension-2019.xlsx"
    desk.select_option("#scheme", "medical")
    desk.click("#finance-form button")
    expect(desk.locator("#finance-title")).to_have_text("财政配套 · 新乡县 2020年度医疗保险")


def test_swagger_ui_draws_the_api_under_its_content_security_policy(desk):
    desk.goto("/api/docs")
    expect(desk.locator(".swagger-ui .info .title")).to_contain_text("Resident contribution")
    expect(desk.locator(".opblock-tag").first).to_be_visible()
