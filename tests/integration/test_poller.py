"""The order poller asks WeChat about open orders without holding a transaction or a row lock
while WeChat answers: a slow platform slows the poller, never the rest of the system."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from backend.orders.poller import claim_due
from tests.support.builders import add_person, age_on_2019
from tests.support.pay_apis import BOTH_PAY_APIS
from tests.support.resident import get_order, order, pay, sign_in
from tests.support.running import run_worker, wait_until

# Every test here pays through WeChat Pay API v2, then v3.
pytestmark = BOTH_PAY_APIS


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


def test_a_slow_wechat_answer_to_the_poller_blocks_no_payment(
    app, session, http, live_server, fake_wechat, clock
):
    auth = sign_in(http, live_server, fake_wechat, "poll-payer")
    _, registrations = add_person(session, birth=age_on_2019(40))
    asked = order(http, live_server, auth, [registrations[1].ref]).json()
    clock.advance(timedelta(seconds=app.config["ORDER_CHECK_AFTER_SECONDS"]))

    http.post(f"{fake_wechat.url}/_control/faults", json={"pay_slow": 3})
    worker = threading.Thread(target=run_worker, args=(app,))
    try:
        worker.start()
        time.sleep(0.5)  # the worker is now waiting on WeChat's (slow) answer about this order
        http.post(f"{fake_wechat.url}/_control/faults", json={"pay_slow": 0})
        started = time.monotonic()
        pay(http, fake_wechat, asked["order_no"])  # the payer pays; the notification arrives
        wait_until(
            lambda: get_order(http, live_server, auth, asked["order_no"]).json()["status"] == "paid"
        )
        credited_in = time.monotonic() - started
        assert worker.is_alive()  # still waiting for WeChat's answer about the same order
    finally:
        worker.join(timeout=30)
    assert credited_in < 2  # not held up behind the poller's call (no lock across it)
    # The poller's answer (asked before the payment: NOTPAY) lands on a paid order: ignored.
    assert get_order(http, live_server, auth, asked["order_no"]).json()["status"] == "paid"


def test_an_order_a_worker_claimed_is_left_to_it_until_its_lease_ends(
    app, session, http, live_server, fake_wechat, clock
):
    auth = sign_in(http, live_server, fake_wechat, "lease-payer")
    _, registrations = add_person(session, birth=age_on_2019(40))
    created = order(http, live_server, auth, [registrations[1].ref]).json()
    clock.advance(timedelta(seconds=app.config["ORDER_CHECK_AFTER_SECONDS"]))
    sessions = app.extensions["db_sessions"]
    with sessions() as first, first.begin():
        claimed = claim_due(first, now=clock.now(), limit=10, lease=timedelta(seconds=60))
    assert [c.order_no for c in claimed] == [created["order_no"]]
    with sessions() as second, second.begin():  # another worker, while the first asks WeChat
        assert claim_due(second, now=clock.now(), limit=10, lease=timedelta(seconds=60)) == []
    clock.advance(timedelta(seconds=61))  # the first worker died: the order is due again
    assert "still open 1" in run_worker(app)
