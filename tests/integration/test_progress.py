"""Campaign progress over real HTTP: a hand-built county where every figure is known."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.models import ProgressChange
from tests.support.builders import add_person, age_on_2019
from tests.support.regions import COUNTY, OTHER_VILLAGE, TOWNSHIP, VILLAGE, VILLAGE_2
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import fresh, run_worker, wait_until

URL = "/api/staff/v1/progress"
MEDICAL_2020 = {"scheme": "medical", "period_year": 2020}


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def people(session):
    """Four people in 大召营村, two in 小召营村, one in 获嘉县: each registered for both schemes."""
    made = {}
    for n, village in enumerate([VILLAGE] * 4 + [VILLAGE_2] * 2 + [OTHER_VILLAGE]):
        _, regs = add_person(
            session, birth=age_on_2019(30 + n), seq=f"{n + 11:03d}", village=village
        )
        made[n] = {r.scheme: r.ref for r in regs}
    return made


def paid(http, live_server, wx, refs, user, trade_type="JSAPI"):
    auth = sign_in(http, live_server, wx, user)
    created = order(http, live_server, auth, refs, trade_type=trade_type).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, live_server, auth, created["order_no"]).json()["status"] == "paid"
    )


def ask(http, live_server, token, region, **params):
    answer = http.get(
        live_server + URL,
        params={"region": region, **MEDICAL_2020, **params},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_county_township_and_its_villages_count_every_payment_by_channel(
    session, people, http, live_server, fake_wechat, staff_token, app
):
    medical = [people[n]["medical"] for n in range(7)]
    paid(http, live_server, fake_wechat, medical[0:2], "household")  # a household of two, JSAPI
    paid(http, live_server, fake_wechat, medical[4:6], "qr-payer", trade_type="NATIVE")
    paid(http, live_server, fake_wechat, medical[6:7], "far-away")  # 获嘉县: not in the county
    paid(http, live_server, fake_wechat, [people[2]["pension"]], "pension-only")  # not medical
    assert "rolled" in run_worker(app)

    token = staff_token("viewer", "410721")
    county = ask(http, live_server, token, COUNTY)
    assert (county["registered"], county["paid_by_resident"], county["paid"]) == (6, 4, 4)
    assert county["paid_by_channel"] == {"wechat_miniprogram": 2, "wechat_qr": 2}
    assert county["paid_by_government"] == 0 and county["treasury_entered"] == 0
    assert county["paid_fen"] == 4 * 25000
    assert county["completion_rate"] == pytest.approx(0.6667)
    # 2019-11-20: ten days to the medical target of 30 November; two people left: one a day.
    assert (county["deadline"], county["days_left"], county["needed_per_day"]) == (
        "2019-11-30",
        10,
        1,
    )
    assert county["target_date"] == "2019-11-30" and county["window_end"] == "2019-12-31"
    assert [(c["code"], c["rank"], c["registered"]) for c in county["children"]] == [
        (TOWNSHIP, 1, 6)
    ]

    township = ask(http, live_server, token, TOWNSHIP)
    assert [
        (c["name"], c["rank"], c["paid"], c["completion_rate"]) for c in township["children"]
    ] == [
        ("小召营村", 1, 2, 1.0),
        ("大召营村", 2, 2, 0.5),
    ]
    lagging = http.get(
        live_server + URL + "/lagging",
        params={"region": TOWNSHIP, **MEDICAL_2020},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert [v["code"] for v in lagging["villages"]] == [VILLAGE]

    city = ask(http, live_server, staff_token("viewer", "410700"), "4107")
    assert (city["registered"], city["paid"]) == (7, 5)
    assert [c["rank"] for c in city["children"]] == [1, 2]  # 获嘉县 1/1 before 新乡县 4/6


def test_any_day_of_the_season_reads_the_figures_as_they_stood(
    session, people, http, live_server, fake_wechat, staff_token, app, clock
):
    token = staff_token("viewer", "410721")
    first_day = ask(http, live_server, token, VILLAGE)["date"]
    paid(http, live_server, fake_wechat, [people[0]["medical"]], "monday")
    run_worker(app)
    clock.advance(timedelta(days=1))
    paid(http, live_server, fake_wechat, [people[1]["medical"]], "tuesday")
    run_worker(app)

    today = ask(http, live_server, token, VILLAGE)
    before = ask(http, live_server, token, VILLAGE, date=first_day)
    assert (today["paid"], today["rolled_day"], today["days_left"]) == (2, "2019-11-21", 9)
    assert (before["paid"], before["rolled_day"], before["days_left"]) == (1, first_day, 10)
    earlier = ask(http, live_server, token, VILLAGE, date="2019-09-01")
    assert (earlier["registered"], earlier["paid"], earlier["rolled_day"]) == (0, 0, None)
    journal_days = fresh(
        session, lambda s: sorted({c.day.isoformat() for c in s.query(ProgressChange)})
    )
    assert journal_days == [first_day, "2019-11-21"]


def test_progress_is_scoped_to_the_callers_region_and_refuses_the_future(
    session, people, http, live_server, staff_token
):
    far = {"Authorization": f"Bearer {staff_token('viewer', '410724', 'far')}"}
    outside = http.get(live_server + URL, params={"region": COUNTY, **MEDICAL_2020}, headers=far)
    assert outside.status_code == 404
    assert http.get(live_server + URL, params={"region": COUNTY, **MEDICAL_2020}).status_code == 401
    token = {"Authorization": f"Bearer {staff_token('viewer', '410721')}"}
    future = http.get(
        live_server + URL,
        params={"region": COUNTY, **MEDICAL_2020, "date": "2019-12-25"},
        headers=token,
    )
    assert future.status_code == 422 and "尚未到来" in future.json()["message"]


def test_an_answer_is_kept_a_few_seconds_of_business_time_then_read_afresh(
    session, people, http, live_server, fake_wechat, staff_token, app, clock
):
    app.config["APP_CONFIG"].PROGRESS_CACHE_SECONDS = 10
    token = staff_token("viewer", "410721")
    assert ask(http, live_server, token, VILLAGE)["paid"] == 0
    paid(http, live_server, fake_wechat, [people[0]["medical"]], "quick")
    run_worker(app)
    assert ask(http, live_server, token, VILLAGE)["paid"] == 0  # the answer of a moment ago
    assert ask(http, live_server, token, TOWNSHIP)["paid"] == 1  # another question: read now
    clock.advance(timedelta(seconds=11))
    assert ask(http, live_server, token, VILLAGE)["paid"] == 1
