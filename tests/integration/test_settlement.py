"""Daily settlement files: what reconciliation staff download per county and scheme."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import openpyxl
import pytest

from tests.integration.test_orders import wait_until
from tests.support.builders import add_person, age_on_2019
from tests.support.regions import OTHER_VILLAGE
from tests.support.resident import get_order, order, pay, sign_in

URL = "/api/staff/v1/settlement"


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


def today_in_beijing() -> str:
    return datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).date().isoformat()


def paid(http, live_server, wx, auth, refs):
    created = order(http, live_server, auth, refs).json()
    pay(http, wx, created["order_no"])
    wait_until(
        lambda: get_order(http, live_server, auth, created["order_no"]).json()["status"] == "paid"
    )
    return created


def test_a_day_of_payments_per_county_and_scheme_with_totals(
    session, http, live_server, fake_wechat, staff_token, app
):
    _, here = add_person(session, birth=age_on_2019(40), seq="011")
    _, there = add_person(session, birth=age_on_2019(35), seq="022", village=OTHER_VILLAGE)
    auth = sign_in(http, live_server, fake_wechat, "settler")
    household = paid(http, live_server, fake_wechat, auth, [(here[0].ref, 300), here[1].ref])
    paid(http, live_server, fake_wechat, auth, [there[1].ref])
    unpaid = order(http, live_server, auth, [there[0].ref]).json()  # created, never paid

    recon = {"Authorization": f"Bearer {staff_token('recon', '410700')}"}
    query = {"date": today_in_beijing(), "county": "410721", "scheme": "medical"}
    answer = http.get(live_server + URL, params=query, headers=recon)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].endswith('.csv"')
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 1 + 1  # header, 新乡县's one medical payment, total
    row = lines[1].split(",")
    assert row[0] == "支付" and row[2] == household["order_no"]
    assert row[8:10] == ["25000", "250.00"]
    assert unpaid["order_no"] not in answer.text

    pension = http.get(
        live_server + URL, params={**query, "scheme": "pension", "format": "xlsx"}, headers=recon
    )
    sheet = openpyxl.load_workbook(io.BytesIO(pension.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][8:12] == (30000, "300.00", 2019, 300)
    assert values[-1][:2] == ("合计", "1 笔")

    other = http.get(live_server + URL, params={**query, "county": "410724"}, headers=recon)
    assert len(other.content.decode("utf-8-sig").splitlines()) == 3  # 获嘉县's own payment

    yesterday = (datetime.now(UTC) - timedelta(days=1)).astimezone(timezone(timedelta(hours=8)))
    earlier = http.get(
        live_server + URL, params={**query, "date": yesterday.date().isoformat()}, headers=recon
    )
    assert earlier.content.decode("utf-8-sig").splitlines()[1].startswith("合计,0 笔")


def test_only_reconciliation_staff_of_the_region_download_it(
    session, http, live_server, staff_token
):
    query = {"date": today_in_beijing(), "county": "410721", "scheme": "medical"}
    viewer = {"Authorization": f"Bearer {staff_token('viewer', '410700')}"}
    assert http.get(live_server + URL, params=query, headers=viewer).status_code == 403
    far = {"Authorization": f"Bearer {staff_token('recon', '410724', 'far-recon')}"}
    assert http.get(live_server + URL, params=query, headers=far).status_code == 404
    recon = {"Authorization": f"Bearer {staff_token('recon', '410700', 'city-recon')}"}
    bad = http.get(live_server + URL, params={**query, "date": "2019-13-01"}, headers=recon)
    assert bad.status_code == 422


def test_flask_settle_writes_the_files_of_every_county_and_scheme_with_payments(
    session, http, live_server, fake_wechat, app, tmp_path
):
    _, regs = add_person(session, birth=age_on_2019(40))
    auth = sign_in(http, live_server, fake_wechat, "cli-settler")
    paid(http, live_server, fake_wechat, auth, [r.ref for r in regs])
    result = app.test_cli_runner().invoke(
        args=["settle", today_in_beijing(), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    stamp = today_in_beijing().replace("-", "")
    assert names == [
        f"settlement-410721-{scheme}-{stamp}.{ext}"
        for scheme in ("medical", "pension")
        for ext in ("csv", "xlsx")
    ]
    assert "410721 medical       1 rows         250.00 yuan" in result.output
