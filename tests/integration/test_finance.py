"""Finance totals (财政配套) over real HTTP: residents' own payments and a government batch, added
up per special group and split between province, city and county as the policy file says."""

from __future__ import annotations

import io

import openpyxl
import pytest

from tests.support.builders import add_person, age_on_2019
from tests.support.regions import OTHER_VILLAGE
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import wait_until

URL = "/api/staff/v1/finance"
BATCHES = "/api/staff/v1/government-batches"
PENSION = {"county": "410721", "scheme": "pension", "period_year": 2019}
MEDICAL = {"county": "410721", "scheme": "medical", "period_year": 2020}


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


def paid(http, live_server, wx, items, user):
    auth = sign_in(http, live_server, wx, user)
    created = order(http, live_server, auth, items).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, live_server, auth, created["order_no"]).json()["status"] == "paid"
    )


@pytest.fixture
def season(session, http, live_server, fake_wechat, staff_token):
    """新乡县: a 特困 person the government pays for (both schemes, by batch), a 低保 person and an
    ordinary one who paid themselves, one who has not paid; 获嘉县: a 低保 person who paid."""
    _, tekun = add_person(session, birth=age_on_2019(50), seq="041", groups=("tekun",))
    _, dibao = add_person(session, birth=age_on_2019(45), seq="042", groups=("dibao",))
    _, ordinary = add_person(session, birth=age_on_2019(30), seq="043")
    add_person(session, birth=age_on_2019(31), seq="044")
    _, far = add_person(
        session, birth=age_on_2019(33), seq="045", groups=("dibao",), village=OTHER_VILLAGE
    )
    # 低保 at the 200 grade: the government pays 100 of it (subsidy 30); medical: 100 of 250.
    paid(http, live_server, fake_wechat, [(dibao[0].ref, 200), dibao[1].ref], "dibao")
    # Ordinary at the 500 grade: no government-paid share, a 60-yuan contribution subsidy.
    paid(http, live_server, fake_wechat, [(ordinary[0].ref, 500), ordinary[1].ref], "ordinary")
    paid(http, live_server, fake_wechat, [(far[0].ref, 200)], "far")
    agency = {"Authorization": f"Bearer {staff_token('agency', '410721')}"}
    for body in (PENSION, MEDICAL):
        batch = http.post(live_server + BATCHES, json=body, headers=agency).json()
        assert len(batch["items"]) == 1  # the 特困 person only
        confirmed = http.post(f"{live_server}{BATCHES}/{batch['batch_no']}/confirm", headers=agency)
        assert confirmed.json()["credited_count"] == 1
    return tekun


def ask(http, live_server, token, query, **extra):
    return http.get(
        live_server + URL, params={**query, **extra}, headers={"Authorization": f"Bearer {token}"}
    )


def test_pension_totals_per_group_with_the_subsidy_shared_by_province_city_and_county(
    season, http, live_server, staff_token
):
    token = staff_token("viewer", "410721")
    answer = ask(http, live_server, token, PENSION)
    assert answer.status_code == 200, answer.text
    totals = answer.json()
    assert totals["shares"] == {
        "gov_paid": {"province": 0, "city": 0, "county": 100},
        "contribution_subsidy": {"province": 50, "city": 25, "county": 25},
    }
    assert [
        (g["group"], g["label"], g["people"], g["gov_paid_fen"], g["contribution_subsidy_fen"])
        for g in totals["groups"]
    ] == [
        ("tekun", "特困人员", 1, 10000, 3000),
        ("dibao", "低保对象", 1, 10000, 3000),
        ("none", "普通参保人（仅缴费补贴）", 1, 0, 6000),
    ]
    total = totals["total"]
    assert (total["people"], total["gov_paid_fen"], total["contribution_subsidy_fen"]) == (
        3,
        20000,
        12000,
    )
    assert total["gov_paid_by_level"] == {"province": 0, "city": 0, "county": 20000}
    assert total["contribution_subsidy_by_level"] == {
        "province": 6000,
        "city": 3000,
        "county": 3000,
    }

    csv_lines = ask(http, live_server, token, PENSION, format="csv").content.decode("utf-8-sig")
    header, *rows = [line.split(",") for line in csv_lines.splitlines()]
    assert header[:4] == ["群体", "人数", "代缴资助（分）", "代缴资助（元）"]
    assert [row[:3] for row in rows] == [
        ["特困人员", "1", "10000"],
        ["低保对象", "1", "10000"],
        ["普通参保人（仅缴费补贴）", "1", "0"],
        ["合计", "3", "20000"],
    ]
    assert rows[-1][3:5] == ["200.00", "12000"]
    assert rows[-1][header.index("缴费补贴省级（分）")] == "6000"
    xlsx = ask(http, live_server, token, PENSION, format="xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert [row[:3] for row in sheet.iter_rows(values_only=True)][-1] == ("合计", 3, 20000)


def test_medical_totals_count_what_the_government_funds_per_group(
    season, http, live_server, staff_token
):
    totals = ask(http, live_server, staff_token("viewer", "410700"), MEDICAL).json()
    # The ordinary person's medical share carries no government money: not counted.
    assert [(g["group"], g["people"], g["gov_paid_fen"]) for g in totals["groups"]] == [
        ("tekun", 1, 25000),
        ("dibao", 1, 10000),
    ]
    assert totals["groups"][0]["gov_paid_by_level"] == {
        "province": 10000,
        "city": 7500,
        "county": 7500,
    }
    assert totals["total"]["gov_paid_by_level"] == {
        "province": 14000,
        "city": 10500,
        "county": 10500,
    }
    assert totals["total"]["contribution_subsidy_fen"] == 0


def test_another_countys_totals_are_not_shown(season, http, live_server, staff_token):
    far = staff_token("viewer", "410724", "far-viewer")
    assert ask(http, live_server, far, PENSION).status_code == 404
    own = ask(http, live_server, far, {**PENSION, "county": "410724"}).json()
    assert [(g["group"], g["people"]) for g in own["groups"]] == [("dibao", 1)]
    assert http.get(live_server + URL, params=PENSION).status_code == 401
