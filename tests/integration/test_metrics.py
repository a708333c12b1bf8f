"""/metrics over real HTTP: Prometheus' text format, figures that follow the database after a
payment, and no answer without the token in live mode."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.builders import add_person, age_on_2019
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import wait_until


def scrape(http, url: str, **headers) -> dict[tuple[str, tuple], float]:
    answer = http.get(url + "/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_follow_a_payment(app, db, with_regions, live_server, http, fake_wechat):
    before = scrape(http, live_server)
    assert before[("cc_orders", (("state", "paid"),))] == 0
    assert before[("cc_ledger_outbox_oldest_pending_age_seconds", ())] == 0

    _, regs = add_person(db, birth=age_on_2019(30))
    auth = sign_in(http, live_server, fake_wechat, "metrics")
    order_no = order(http, live_server, auth, [regs[1].ref]).json()["order_no"]
    pay(http, fake_wechat, order_no)
    wait_until(lambda: get_order(http, live_server, auth, order_no).json()["status"] == "paid")
    app.extensions["clock"].advance(timedelta(seconds=90))  # the bureau has not been told yet
    after = scrape(http, live_server)
    assert after[("cc_ledger_outbox_oldest_pending_age_seconds", ())] >= 90
    assert after[("cc_orders", (("state", "paid"),))] == 1
    assert after[("cc_orders", (("state", "created"),))] == 0
    assert after[("cc_ledger_dead_letters", ())] == 0
    assert after[("cc_discrepancies_open", ())] == 0
    assert after[("cc_money_check_ok", ())] == 1
    # Requests by route template, never by the order number in the path.
    route = (("method", "GET"), ("route", "/api/mp/v1/orders/<order_no>"), ("status", "200"))
    assert after[("cc_http_requests_total", route)] >= 1
    assert not any(order_no in str(labels) for _, labels in after)
    assert after[("cc_http_request_duration_seconds_count", route[:2])] >= 1


def test_money_check_result_is_exposed(app, db, live_server, http):
    from datetime import date

    from backend.models import MoneyCheck

    db.add(
        MoneyCheck(
            day=date(2019, 11, 19),
            source="bill",
            took=50000,
            credited=25000,
            refunded=0,
            in_discrepancies=0,
            ledger_mismatches=0,
            ok=False,
            checked_at=app.extensions["clock"].now(),
        )
    )
    db.commit()
    figures = scrape(http, live_server)
    assert figures[("cc_money_check_ok", ())] == 0
    assert figures[("cc_money_check_difference_fen", ())] == 25000
    assert figures[("cc_money_check_broken_days", ())] == 1


@pytest.mark.parametrize("mode", ["live", "sandbox"])
def test_live_mode_needs_the_token(app, live_server, http, mode):
    # Switched after start: what is checked is the answer, not the start-up checks of live mode.
    cfg = app.config["APP_CONFIG"]
    cfg.WECHAT_MODE, cfg.METRICS_TOKEN = mode, "s3cret-metrics"
    assert http.get(live_server + "/metrics").status_code == 404
    wrong = {"Authorization": "Bearer nope"}
    assert http.get(live_server + "/metrics", headers=wrong).status_code == 404
    figures = scrape(http, live_server, Authorization="Bearer s3cret-metrics")
    assert ("cc_discrepancies_open", ()) in figures
    cfg.METRICS_TOKEN = None  # no token set: never answered
    assert (
        http.get(live_server + "/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    )
