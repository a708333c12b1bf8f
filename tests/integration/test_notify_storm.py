"""A notification storm, small: 20 orders each notified 5 times at once, one paid after it
expired and closed, one whose notification never comes (the worker's order check credits it
through orderquery). Every order is credited exactly once, with one tax ledger message per paid
registration, and the money watch finds the day in order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import text

from backend import create_app
from backend.payments.wechat.routes import NOTIFY_PATH
from backend.values.beijing import beijing_today
from tests.support.builders import add_person, age_on_2019
from tests.support.resident import order, sign_in
from tests.support.storm import broken_invariants, journal_paid, notification, paid_at_platform

ORDERS, COPIES = 20, 5


def orders_job(app) -> None:
    result = app.test_cli_runner().invoke(args=["worker", "--once", "--job", "orders"])
    assert result.exit_code == 0, result.output


def status_of(app, order_no: str) -> str:
    with app.extensions["db_engine"].connect() as conn:
        return conn.execute(
            text("SELECT status FROM payment_order WHERE order_no = :n"), {"n": order_no}
        ).scalar_one()


@pytest.fixture
def app(app_config, clean_db):
    # One payer makes every order.
    app = create_app(
        {**app_config, "ORDER_LIMIT_PER_OPENID": "1000 per minute", "OPEN_ORDERS_PER_RESIDENT": 100}
    )
    yield app
    app.extensions["db_engine"].dispose()
    app.extensions["db_reader"].engine.dispose()


def test_every_order_is_credited_once_in_a_storm(
    app, db, with_regions, live_server, http, fake_wechat, clock
):
    cfg = app.config["APP_CONFIG"]
    regs = [add_person(db, birth=age_on_2019(20 + n % 40), seq=f"{n:03d}")[1][1] for n in range(22)]
    db.rollback()  # hold no SQLite lock while the app writes
    auth = sign_in(http, live_server, fake_wechat, "storm")

    def new_order(ref: str) -> str:
        answer = order(http, live_server, auth, [ref])
        assert answer.status_code == 201, answer.text
        return answer.json()["order_no"]

    # Late: the order expires and the worker closes it; then the payer's money lands anyway.
    late = new_order(regs[0].ref)
    clock.advance(timedelta(seconds=cfg.ORDER_TTL_SECONDS + 1))
    orders_job(app)
    assert status_of(app, late) == "closed"
    numbers = [new_order(r.ref) for r in regs[1:21]]
    lost = new_order(regs[21].ref)
    trades = [paid_at_platform(http, fake_wechat.url, n) for n in numbers]
    trades.append(paid_at_platform(http, fake_wechat.url, late, force=True))
    paid_at_platform(http, fake_wechat.url, lost)  # its notification never comes

    bodies = [notification(t, cfg.WECHAT_API_KEY) for t in trades]
    with ThreadPoolExecutor(max_workers=2 * COPIES) as pool, requests.Session() as poster:
        answers = list(
            pool.map(
                lambda body: poster.post(
                    live_server + NOTIFY_PATH, data=body, headers={"Content-Type": "text/xml"}
                ),
                [body for body in bodies for _ in range(COPIES)],  # the copies side by side
            )
        )
    assert all(a.status_code == 200 and "SUCCESS" in a.text for a in answers)

    clock.advance(timedelta(seconds=cfg.ORDER_CHECK_AFTER_SECONDS + 1))
    orders_job(app)  # asks WeChat about the lost one and credits it

    with app.extensions["db_engine"].connect() as conn:
        everyone = [*numbers, late, lost]
        broken = broken_invariants(conn, everyone)
        assert broken == dict.fromkeys(broken, 0)
        assert journal_paid(conn) == len(everyone)
    day = beijing_today(clock.now()).isoformat()
    checked = app.test_cli_runner().invoke(args=["check-money", day])
    assert checked.exit_code == 0, checked.output
