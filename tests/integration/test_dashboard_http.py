"""The staff dashboard over real HTTP: signing in and out, the session's rules (lifetime on the
business clock, disabled accounts, CSRF tokens), region scope, and what each page shows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.dashboard.csrf import FIELD
from tests.support.builders import add_person, age_on_2019
from tests.support.dashboard import (
    charts_of,
    csrf_of,
    disable,
    sign_in,
    staff_account,
    text_of,
)
from tests.support.regions import OTHER_COUNTY, OTHER_VILLAGE, TOWNSHIP, VILLAGE, VILLAGE_2
from tests.support.resident import get_order, order, pay
from tests.support.resident import sign_in as resident_sign_in
from tests.support.running import run_worker, wait_until


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def county_staff(app, with_regions):
    return "agency-xinxiang", staff_account(app, "agency-xinxiang", "agency", "410721")


def signed_in(http, live_server, account):
    answer = sign_in(http, live_server, *account)
    assert answer.status_code == 302, answer.text
    return answer


def test_signing_in_gives_a_short_lived_httponly_cookie_for_the_dashboard_only(
    http, live_server, county_staff, app
):
    first = http.get(live_server + "/staff/regions/410721100000", allow_redirects=False)
    assert first.status_code == 302
    assert first.headers["Location"].endswith("/staff/login?next=/staff/regions/410721100000")

    answer = sign_in(http, live_server, *county_staff, next_page="/staff/regions/410721100000")
    assert answer.status_code == 302 and answer.headers["Location"] == "/staff/regions/410721100000"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/staff" in cookie
    assert "Expires=" in cookie and "Secure" not in cookie  # plain http here
    page = http.get(live_server + "/staff/")
    assert page.status_code == 200
    assert "新乡县" in page.text and "agency-xinxiang" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # The bearer-token API does not take the cookie.
    assert http.get(live_server + "/api/staff/v1/me").status_code == 401


def test_the_cookie_is_secure_when_the_dashboard_is_served_over_https(app, county_staff):
    client = app.test_client()
    form = client.get("/staff/login", base_url="https://staff.example")
    answer = client.post(
        "/staff/login",
        base_url="https://staff.example",
        data={"name": county_staff[0], "token": county_staff[1], FIELD: csrf_of(form.text)},
    )
    assert answer.status_code == 302
    assert "Secure" in answer.headers["Set-Cookie"]


def test_a_wrong_token_an_unknown_account_and_a_disabled_one_are_refused_alike(
    http, live_server, county_staff, app, clock
):
    name, token = county_staff
    for who, secret in ((name, "not-the-token"), ("nobody", token)):
        answer = sign_in(http, live_server, who, secret)
        assert answer.status_code == 401
        assert "账号或令牌不正确" in answer.text
    disable(app, name, clock.now())
    assert sign_in(http, live_server, name, token).status_code == 401
    assert http.get(live_server + "/staff/", allow_redirects=False).status_code == 302


def test_sign_in_attempts_are_limited_per_address(http, live_server, county_staff, app):
    app.config["SESSION_LIMIT_PER_ADDRESS"] = "3 per minute"
    answers = [sign_in(http, live_server, county_staff[0], "guess").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    refused = sign_in(http, live_server, *county_staff)
    assert refused.status_code == 429 and "过于频繁" in refused.text
    assert int(refused.headers["Retry-After"]) > 0


def test_a_form_posted_without_its_csrf_token_is_refused(http, live_server, county_staff):
    name, token = county_staff
    http.get(live_server + "/staff/login")
    bare = http.post(live_server + "/staff/login", data={"name": name, "token": token})
    assert bare.status_code == 400 and "防伪令牌" in bare.text
    forged = http.post(
        live_server + "/staff/login", data={"name": name, "token": token, FIELD: "forged"}
    )
    assert forged.status_code == 400

    signed_in(http, live_server, county_staff)
    assert http.post(live_server + "/staff/logout", allow_redirects=False).status_code == 400
    assert http.get(live_server + "/staff/").status_code == 200  # still signed in
    # Another browser (no session) cannot post with a token it read elsewhere either.
    page = http.get(live_server + "/staff/")
    stranger = http.__class__()
    answer = stranger.post(
        live_server + "/staff/logout", data={FIELD: csrf_of(page.text)}, allow_redirects=False
    )
    assert answer.status_code == 400


def test_signing_out_ends_the_session(http, live_server, county_staff):
    signed_in(http, live_server, county_staff)
    page = http.get(live_server + "/staff/")
    out = http.post(
        live_server + "/staff/logout", data={FIELD: csrf_of(page.text)}, allow_redirects=False
    )
    assert out.status_code == 302 and out.headers["Location"] == "/staff/login"
    assert "您已退出登录" in http.get(live_server + "/staff/login").text
    assert http.get(live_server + "/staff/", allow_redirects=False).status_code == 302


def test_a_session_ends_after_its_lifetime_on_the_business_clock(
    http, live_server, county_staff, clock
):
    signed_in(http, live_server, county_staff)
    clock.advance(timedelta(minutes=479))
    assert http.get(live_server + "/staff/", allow_redirects=False).status_code == 200
    clock.advance(timedelta(minutes=2))
    expired = http.get(live_server + "/staff/", allow_redirects=False)
    assert expired.status_code == 302 and "/staff/login" in expired.headers["Location"]
    assert "登录已失效" in http.get(live_server + "/staff/login").text


def test_a_disabled_account_is_out_at_its_next_request(http, live_server, county_staff, app, clock):
    signed_in(http, live_server, county_staff)
    assert http.get(live_server + "/staff/", allow_redirects=False).status_code == 200
    disable(app, county_staff[0], clock.now())
    answer = http.get(live_server + "/staff/", allow_redirects=False)
    assert answer.status_code == 302 and "/staff/login" in answer.headers["Location"]


def test_after_signing_in_only_a_dashboard_address_is_followed(http, live_server, county_staff):
    for elsewhere in ("https://evil.example/staff/", "//evil.example/staff/", "/api/docs"):
        answer = sign_in(http, live_server, *county_staff, next_page=elsewhere)
        assert answer.headers["Location"] == "/staff/"


def test_a_county_account_sees_its_county_and_nothing_outside(
    http, live_server, county_staff, session
):
    add_person(session, name="王秀英", birth=age_on_2019(45), seq="011", village=OTHER_VILLAGE)
    signed_in(http, live_server, county_staff)
    for outside in (
        f"/staff/regions/{OTHER_COUNTY}",
        f"/staff/regions/{OTHER_VILLAGE}",
        f"/staff/regions/{OTHER_VILLAGE}/unpaid",
        "/staff/regions/410700000000",
        "/staff/regions/410799000000",  # no such county
    ):
        answer = http.get(live_server + outside)
        assert answer.status_code == 404, outside
        assert "不在您的管辖范围内" in answer.text
    assert http.get(live_server + f"/staff/regions/{VILLAGE}").status_code == 200
    # The city above the county is shown in the path, not as a link.
    township = http.get(live_server + f"/staff/regions/{TOWNSHIP}").text
    assert "新乡市" in township and 'href="/staff/regions/410700000000' not in township
    assert 'href="/staff/regions/410721000000' in township


def test_operations_are_for_reconciliation_staff_and_admins(
    http, live_server, county_staff, app, with_regions
):
    signed_in(http, live_server, county_staff)
    assert "运营" not in text_of(http.get(live_server + "/staff/").text).split("退出")[0]
    assert http.get(live_server + "/staff/operations").status_code == 403

    recon = http.__class__()
    signed_in(
        recon,
        live_server,
        ("recon-xinxiang", staff_account(app, "recon-xinxiang", "recon", "410721")),
    )
    page = recon.get(live_server + "/staff/operations")
    assert page.status_code == 200
    assert "待处理的对账差异" in page.text and "今日结算" in page.text
    assert "税务记账消息" not in page.text  # the outbox is the admins'
    admin = http.__class__()
    signed_in(
        admin, live_server, ("admin-city", staff_account(app, "admin-city", "admin", "410700"))
    )
    assert "税务记账消息" in admin.get(live_server + "/staff/operations").text


def paid(http, live_server, wx, refs, user):
    auth = resident_sign_in(http, live_server, wx, user)
    created = order(http, live_server, auth, refs).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, live_server, auth, created["order_no"]).json()["status"] == "paid"
    )
    return created


def test_the_progress_pages_show_the_figures_ranking_and_completion_day_by_day(
    http, live_server, county_staff, session, fake_wechat, app, clock
):
    people = [
        add_person(session, birth=age_on_2019(30 + n), seq=f"{n + 11:03d}", village=village)[1]
        for n, village in enumerate([VILLAGE] * 4 + [VILLAGE_2] * 2)
    ]
    medical = {
        n: next(r.ref for r in regs if r.scheme == "medical") for n, regs in enumerate(people)
    }
    resident = http.__class__()
    paid(resident, live_server, fake_wechat, [medical[0]], "first-day")
    run_worker(app)
    clock.advance(timedelta(days=1))
    paid(resident, live_server, fake_wechat, [medical[4], medical[5]], "second-day")
    run_worker(app)

    signed_in(http, live_server, county_staff)
    township = http.get(live_server + f"/staff/regions/{TOWNSHIP}")
    assert township.status_code == 200
    words = text_of(township.text)
    assert "2020年度医疗保险" in words and "2019年度养老保险" in words
    history, ranking = charts_of(township.text)[2:4]  # the medical section follows the pension one
    assert [point[1] for point in history["points"]] == [16.67, 50.0]
    assert history["deadline"] == "2019-11-30"
    assert ranking["names"] == ["小召营村", "大召营村"] and ranking["rates"] == [100.0, 25.0]

    earlier = http.get(live_server + f"/staff/regions/{TOWNSHIP}", params={"date": "2019-11-20"})
    history_then = charts_of(earlier.text)[2]
    assert [point[1] for point in history_then["points"]] == [16.67]
    future = http.get(live_server + f"/staff/regions/{TOWNSHIP}", params={"date": "2019-12-25"})
    assert future.status_code == 422 and "尚未到来" in future.text


def test_a_department_sees_only_its_own_scheme(http, live_server, app, with_regions):
    hrss = ("hrss-xinxiang", staff_account(app, "hrss-xinxiang", "viewer", "410721", "hrss"))
    signed_in(http, live_server, hrss)
    words = text_of(http.get(live_server + "/staff/").text)
    assert "2019年度养老保险" in words and "医疗保险" not in words


def test_a_village_unpaid_list_names_the_unpaid_masked_for_printing(
    http, live_server, county_staff, session, fake_wechat
):
    person, regs = add_person(session, name="王秀英", birth=age_on_2019(45), seq="011")
    add_person(session, name="李建国", birth=age_on_2019(50), seq="013", village=VILLAGE_2)
    medical = next(r.ref for r in regs if r.scheme == "medical")
    paid(http.__class__(), live_server, fake_wechat, [medical], "wang")

    signed_in(http, live_server, county_staff)
    page = http.get(live_server + f"/staff/regions/{VILLAGE}/unpaid")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "新乡市 新乡县 翟坡镇 大召营村 未缴费人员名单" in words
    assert "王**" in words and "王秀英" not in words
    assert person.id_number not in page.text and person.id_number[:6] + "********" in page.text
    assert "2019年度养老保险" in words and "2020年度医疗保险" not in words  # medical is paid
    assert "李**" not in words  # another village
    assert 'data-action="print"' in page.text
    township = http.get(live_server + f"/staff/regions/{TOWNSHIP}/unpaid")
    assert township.status_code == 404


def test_echarts_is_served_from_the_installed_package_with_a_long_cache_life(http, live_server):
    from backend.dashboard.assets import echarts_version

    version = echarts_version()
    assert version, "node_modules/echarts missing: run make install"
    script = http.get(live_server + f"/staff/assets/echarts-{version}.min.js")
    assert script.status_code == 200 and len(script.content) > 500_000
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert http.get(live_server + "/staff/assets/echarts-0.0.1.min.js").status_code == 404


# --- bulletins (通报) ---------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def make_bulletin(http, live_server, **fields):
    """Post the bulletins page's make form with its CSRF token; the answer (no redirects)."""
    page = http.get(live_server + "/staff/bulletins")
    data = {FIELD: csrf_of(page.text), **fields}
    return http.post(live_server + "/staff/bulletins", data=data, allow_redirects=False)


@pytest.fixture
def bulletins_made(http, live_server, app, session, fake_wechat):
    """新乡县 2 of 3 paid medical, 获嘉县 0 of 1; the city admin made the city's medical and
    pension bulletins and 新乡县's medical one, as of 2019-11-20, through the page."""
    people = [
        add_person(session, birth=age_on_2019(30 + n), seq=f"{n + 51:03d}", village=village)[1]
        for n, village in enumerate([VILLAGE, VILLAGE, VILLAGE_2, OTHER_VILLAGE])
    ]
    medical = [next(r.ref for r in regs if r.scheme == "medical") for regs in people]
    paid(http.__class__(), live_server, fake_wechat, medical[:2], "two-paid")
    admin = ("admin-city", staff_account(app, "admin-city", "admin", "410700"))
    signed_in(http, live_server, admin)
    made = {}
    for region, scheme in (
        ("410700000000", "medical"),
        ("410700000000", "pension"),
        ("410721000000", "medical"),
    ):
        answer = make_bulletin(http, live_server, region=region, scheme=scheme, date="2019-11-20")
        assert answer.status_code == 302, answer.text
        made[(region[:6], scheme)] = int(answer.headers["Location"].rsplit("made=", 1)[1])
    return made


def test_the_bulletins_page_lists_them_newest_first_with_their_summary_and_files(
    http, live_server, bulletins_made
):
    page = http.get(live_server + "/staff/bulletins")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "共 3 期" in words
    assert "新乡市 2020年度医疗保险 截至 2019-11-20" in words
    assert "新乡县 2020年度医疗保险 截至 2019-11-20" in words
    assert "截至2019年11月20日，全市城乡居民基本医疗保险登记参保4人，已缴费2人" in words
    assert "通报" in text_of(page.text).split("退出")[0]  # in the navigation
    city = bulletins_made[("410700", "medical")]
    pdf = http.get(live_server + f"/staff/bulletins/{city}.pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == (
        'attachment; filename="bulletin-4107-medical-20191120.pdf"'
    )
    assert pdf.headers["Cache-Control"] == "no-store"
    xlsx = http.get(live_server + f"/staff/bulletins/{city}.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["Content-Type"] == XLSX
    assert xlsx.content.startswith(b"PK")
    assert http.get(live_server + "/staff/bulletins/999999.pdf").status_code == 404
    # Without a session: to the sign-in form, not the file.
    assert (
        http.__class__()
        .get(live_server + f"/staff/bulletins/{city}.pdf", allow_redirects=False)
        .status_code
        == 302
    )


def test_a_county_reads_the_city_bulletins_ranking_it_and_its_own_not_anothers(
    http, live_server, app, bulletins_made
):
    huojia = http.__class__()
    signed_in(
        huojia,
        live_server,
        ("viewer-huojia", staff_account(app, "viewer-huojia", "viewer", "410724")),
    )
    words = text_of(huojia.get(live_server + "/staff/bulletins").text)
    assert "共 2 期" in words and "新乡市 2020年度医疗保险" in words
    assert "新乡县 2020年度医疗保险" not in words
    assert "生成通报" not in words  # a viewer makes none
    xinxiang = bulletins_made[("410721", "medical")]
    for kind in ("pdf", "xlsx"):
        answer = huojia.get(live_server + f"/staff/bulletins/{xinxiang}.{kind}")
        assert answer.status_code == 404 and "没有找到这期通报" in answer.text
    city = bulletins_made[("410700", "medical")]
    assert huojia.get(live_server + f"/staff/bulletins/{city}.pdf").status_code == 200
    # A viewer's post is refused even with the form's token.
    refused = make_bulletin(huojia, live_server, region="410724000000", scheme="medical")
    assert refused.status_code == 403


def test_a_department_reads_only_the_bulletins_of_its_scheme(
    http, live_server, app, bulletins_made
):
    hrss = http.__class__()
    account = staff_account(app, "hrss-xinxiang", "agency", "410721", "hrss")
    signed_in(hrss, live_server, ("hrss-xinxiang", account))
    page = hrss.get(live_server + "/staff/bulletins")
    words = text_of(page.text)
    assert (
        "共 1 期" in words and "新乡市 2019年度养老保险" in words and "医疗保险 截至" not in words
    )
    # The form offers its own county and its own scheme only.
    assert 'value="410721000000"' in page.text and 'value="410700000000"' not in page.text
    assert 'value="pension"' in page.text and 'value="medical"' not in page.text
    medical = bulletins_made[("410700", "medical")]
    assert hrss.get(live_server + f"/staff/bulletins/{medical}.xlsx").status_code == 404
    pension = bulletins_made[("410700", "pension")]
    answer = hrss.get(live_server + f"/staff/bulletins/{pension}.xlsx")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == XLSX
    other = make_bulletin(hrss, live_server, region="410721000000", scheme="medical")
    assert other.status_code == 422 and "人社部门不负责医疗保险的通报" in other.text


def test_making_a_bulletin_on_the_page_needs_its_csrf_token_and_explains_a_refusal(
    http, live_server, county_staff, session, clock
):
    signed_in(http, live_server, county_staff)
    form = http.get(live_server + "/staff/bulletins")
    assert "生成通报" in form.text
    yesterday = (clock.now() + timedelta(hours=8) - timedelta(days=1)).date().isoformat()
    assert f'name="date" value="{yesterday}"' in form.text
    bare = {"region": "410721000000", "scheme": "medical"}
    refused = http.post(live_server + "/staff/bulletins", data=bare, allow_redirects=False)
    assert refused.status_code == 400 and "防伪令牌" in refused.text
    assert "共 0 期" in text_of(http.get(live_server + "/staff/bulletins").text)

    future = make_bulletin(http, live_server, **bare, date="2030-01-01")
    assert future.status_code == 422 and "尚未到来" in text_of(future.text)
    outside = make_bulletin(http, live_server, region="410700000000", scheme="medical")
    assert outside.status_code == 404 and "不在您的管辖范围内" in outside.text

    made = make_bulletin(http, live_server, **bare)  # the day proposed: yesterday
    assert made.status_code == 302
    page = http.get(live_server + made.headers["Location"])
    words = text_of(page.text)
    assert f"已生成新乡县2020年度医疗保险通报（截至 {yesterday}）" in words
    assert "共 1 期" in words and f"新乡县 2020年度医疗保险 截至 {yesterday}" in words
    again = make_bulletin(http, live_server, **bare)
    assert "已重新生成" in text_of(http.get(live_server + again.headers["Location"]).text)
    assert "共 1 期" in text_of(http.get(live_server + "/staff/bulletins").text)


# --- finance totals (财政配套) and the county's government batches --------------------------------

BATCHES = "/api/staff/v1/government-batches"


@pytest.fixture
def finance_season(session, http, live_server, fake_wechat, staff_token):
    """新乡县: a 特困 person the government pays for (a confirmed pension batch), a 低保 person
    and an ordinary one who paid themselves; 获嘉县: a 低保 person who paid."""
    add_person(session, birth=age_on_2019(50), seq="061", groups=("tekun",))
    _, dibao = add_person(session, birth=age_on_2019(45), seq="062", groups=("dibao",))
    _, ordinary = add_person(session, birth=age_on_2019(30), seq="063")
    _, far = add_person(
        session, birth=age_on_2019(33), seq="064", groups=("dibao",), village=OTHER_VILLAGE
    )
    resident = http.__class__()
    paid(resident, live_server, fake_wechat, [(dibao[0].ref, 200), dibao[1].ref], "dibao")
    paid(resident, live_server, fake_wechat, [(ordinary[0].ref, 500)], "ordinary")
    paid(resident, live_server, fake_wechat, [(far[0].ref, 200)], "far")
    agency = {"Authorization": f"Bearer {staff_token('agency', '410721', 'batch-agency')}"}
    body = {"county": "410721", "scheme": "pension", "period_year": 2019}
    batch = http.post(live_server + BATCHES, json=body, headers=agency).json()
    confirmed = http.post(f"{live_server}{BATCHES}/{batch['batch_no']}/confirm", headers=agency)
    assert confirmed.json()["credited_count"] == 1
    return batch["batch_no"]


def cells(html: str, row_id: str) -> list[str]:
    import re

    row = re.search(rf"<tr[^>]*{row_id}[^>]*>(.*?)</tr>", html, re.S)
    assert row, row_id
    return [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_the_finance_page_shows_a_countys_subsidies_per_group_split_between_levels(
    http, live_server, county_staff, finance_season
):
    signed_in(http, live_server, county_staff)
    assert "财政配套" in text_of(http.get(live_server + "/staff/").text).split("退出")[0]
    page = http.get(live_server + "/staff/finance")  # defaults: own county, pension, newest year
    assert page.status_code == 200
    words = text_of(page.text)
    assert "财政配套 · 新乡县 2019年度养老保险" in words
    assert "代缴 省级 0%、市级 0%、县级 100%" in words
    assert "缴费补贴 省级 50%、市级 25%、县级 25%" in words
    # group, people, gov-paid total, province, city, county, subsidy total, province, city, county
    assert cells(page.text, 'data-group="tekun"') == [
        "特困人员",
        "1",
        "100.00",
        "0.00",
        "0.00",
        "100.00",
        "30.00",
        "15.00",
        "7.50",
        "7.50",
    ]
    assert cells(page.text, 'data-group="none"')[:3] == ["普通参保人（仅缴费补贴）", "1", "0.00"]
    assert cells(page.text, 'id="finance-total"') == [
        "合计",
        "3",
        "200.00",
        "0.00",
        "0.00",
        "200.00",
        "120.00",
        "60.00",
        "30.00",
        "30.00",
    ]
    medical = http.get(live_server + "/staff/finance", params={"scheme": "medical"})
    assert "2020年度医疗保险" in text_of(medical.text)
    assert cells(medical.text, 'id="finance-total"')[:3] == ["合计", "1", "100.00"]


def test_finance_downloads_are_the_apis_table(
    http, live_server, county_staff, finance_season, staff_token
):
    signed_in(http, live_server, county_staff)
    query = {"county": "410721", "scheme": "pension", "period_year": 2019}
    csv = http.get(live_server + "/staff/finance.csv", params=query)
    assert csv.status_code == 200 and csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.headers["Content-Disposition"] == (
        'attachment; filename="finance-410721-pension-2019.csv"'
    )
    api = http.get(
        live_server + "/api/staff/v1/finance",
        params={**query, "format": "csv"},
        headers={"Authorization": f"Bearer {staff_token('viewer', '410721', 'api-viewer')}"},
    )
    assert csv.content == api.content
    assert csv.content.decode("utf-8-sig").splitlines()[-1].startswith("合计,3,20000,200.00")
    xlsx = http.get(live_server + "/staff/finance.xlsx", params=query)
    assert xlsx.status_code == 200 and xlsx.headers["Content-Type"] == XLSX
    assert xlsx.content.startswith(b"PK")


def test_finance_is_shown_only_inside_the_persons_region_and_department(
    http, live_server, app, finance_season
):
    huojia = http.__class__()
    signed_in(
        huojia,
        live_server,
        ("viewer-huojia", staff_account(app, "viewer-huojia", "viewer", "410724")),
    )
    own = huojia.get(live_server + "/staff/finance")
    assert 'value="410721"' not in own.text and "获嘉县" in text_of(own.text)
    for path in ("/staff/finance", "/staff/finance.csv", "/staff/finance.xlsx"):
        answer = huojia.get(live_server + path, params={"county": "410721"})
        assert answer.status_code == 404 and "不在您的管辖范围内" in answer.text, path

    nhsa = http.__class__()
    signed_in(
        nhsa,
        live_server,
        ("nhsa-city", staff_account(app, "nhsa-city", "viewer", "410700", "nhsa")),
    )
    page = nhsa.get(live_server + "/staff/finance")
    assert "新乡县 2020年度医疗保险" in text_of(page.text) and 'value="pension"' not in page.text
    refused = nhsa.get(live_server + "/staff/finance.csv", params={"scheme": "pension"})
    assert refused.status_code == 404 and "医保部门不负责养老保险" in refused.text
    assert (
        nhsa.get(live_server + "/staff/finance", params={"period_year": "2030"}).status_code == 404
    )

    township = http.__class__()
    signed_in(
        township,
        live_server,
        ("viewer-town", staff_account(app, "viewer-town", "viewer", TOWNSHIP)),
    )
    assert "财政配套" not in text_of(township.get(live_server + "/staff/").text).split("退出")[0]
    assert township.get(live_server + "/staff/finance").status_code == 404


def test_the_county_page_lists_its_government_batches_read_only(
    http, live_server, county_staff, app, finance_season
):
    signed_in(http, live_server, county_staff)
    page = http.get(live_server + "/staff/regions/410721000000")
    assert cells(page.text, f'data-batch="{finance_season}"')[1:5] == [
        "2019年度养老保险",
        "已确认",
        "1",
        "100.00",
    ]
    nhsa = http.__class__()
    signed_in(
        nhsa,
        live_server,
        ("nhsa-xinxiang", staff_account(app, "nhsa-xinxiang", "viewer", "410721", "nhsa")),
    )
    other = nhsa.get(live_server + "/staff/regions/410721000000").text
    assert finance_season not in other and "尚无财政代缴批次" in other
    township = http.get(live_server + f"/staff/regions/{TOWNSHIP}").text
    assert "财政代缴批次" not in township
