"""One error boundary: services refuse with domain errors, the API gives each one status and a
plain message; a bug is a 500 that is logged as one, never mistaken for a refusal."""

from __future__ import annotations

import logging

import pytest

from backend.orders import crediting
from tests.integration.test_orders import signed_notification
from tests.support.builders import add_person, age_on_2019
from tests.support.resident import order, sign_in

NOTIFY = "/api/payments/wechat/notify"


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


def test_a_notification_for_an_order_we_never_made_is_refused_for_wechat_to_retry(
    app, http, live_server
):
    body = signed_notification(
        app, out_trade_no="SI20191120090000NOSUCH001", transaction_id="4" * 28, total_fee="100"
    )
    answer = http.post(live_server + NOTIFY, data=body)
    assert answer.status_code == 404
    assert b"FAIL" in answer.content and b"unknown out_trade_no" in answer.content


def test_a_bug_while_crediting_is_a_logged_500_not_an_unknown_order(
    app, session, http, live_server, fake_wechat, monkeypatch, caplog
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    auth = sign_in(http, live_server, fake_wechat, "bug-hunter")
    created = order(http, live_server, auth, [registrations[1].ref]).json()

    def broken(*args, **kwargs):
        return {}["missing key"]  # a KeyError, as a bug would raise one

    monkeypatch.setattr(crediting, "_paid", broken)
    body = signed_notification(
        app,
        out_trade_no=created["order_no"],
        transaction_id="4" * 28,
        total_fee=str(created["total_fen"]),
    )
    with caplog.at_level(logging.ERROR):
        answer = http.post(live_server + NOTIFY, data=body)
    assert answer.status_code == 500
    assert b"unknown out_trade_no" not in answer.content
    assert any(r.message == "unhandled error" and r.exc_info for r in caplog.records)


def test_each_kind_of_refusal_has_its_status_a_reason_and_a_plain_message(
    app, session, http, live_server, fake_wechat, staff_token
):
    _, registrations = add_person(session, birth=age_on_2019(40))
    auth = sign_in(http, live_server, fake_wechat, "refused")
    refs = [registrations[1].ref]
    created = order(http, live_server, auth, refs)
    assert created.status_code == 201

    conflict = order(http, live_server, auth, refs)  # held by the first order
    assert conflict.status_code == 409
    assert conflict.json()["reason"] == "in_another_order"
    assert conflict.json()["errors"] == {"json": {"items": [conflict.json()["message"]]}}

    refused = order(http, live_server, auth, [registrations[0].ref, registrations[0].ref])
    assert (refused.status_code, refused.json()["reason"]) == (422, "repeated_item")

    recon = {"Authorization": f"Bearer {staff_token('recon', '410700')}"}
    missing = http.post(
        live_server + "/api/staff/v1/refunds",
        json={"order_no": "SI-NOPE", "registration_ref": refs[0], "reason": "other"},
        headers=recon,
    )
    assert (missing.status_code, missing.json()["reason"]) == (404, "no_such_item")

    http.post(f"{fake_wechat.url}/_control/faults", json={"pay_http_500": True})
    try:
        unavailable = order(http, live_server, auth, [registrations[0].ref])
    finally:
        http.post(f"{fake_wechat.url}/_control/faults", json={"pay_http_500": False})
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"] == "30"
    assert "微信支付暂时不可用" in unavailable.json()["message"]


def test_a_method_the_route_does_not_have_is_a_405_naming_the_ones_it_has(http, live_server):
    answer = http.request("TRACE", live_server + "/api/staff/v1/me")
    assert (answer.status_code, answer.json()["status"]) == (405, "Method Not Allowed")
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
