"""The app's WeChat Pay API v3 callbacks over real HTTP, and switching WECHAT_PAY_API with orders
in flight: an order is notified the way it was placed, so both callback routes stay open and
either API finds the other's trades (one merchant, one platform)."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from sqlalchemy import select

from backend.models import PaymentOrder
from fakes.wechat import v3_wire
from fakes.wechat.v3keys import ensure_keys
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.pay_apis import BOTH_PAY_APIS
from tests.support.resident import get_order, lookup, order, pay, sign_in
from tests.support.running import fresh, wait_until

V3_NOTIFY = "/api/payments/wechat/v3/notify"
V3_REFUND_NOTIFY = "/api/payments/wechat/v3/refund-notify"


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def auth(http, live_server, fake_wechat):
    return sign_in(http, live_server, fake_wechat, "payer")


def new_order(session, http, base, auth, seq: int = 1) -> dict:
    person, _ = add_person(session, name="李四", birth=age_on_2019(40), seq=f"{seq:03d}")
    found = lookup(http, base, auth, person.id_number, "李四").json()
    refs = [(r["ref"], 300 if r["scheme"] == "pension" else None) for r in found["registrations"]]
    created = order(http, base, auth, refs)
    assert created.status_code == 201, created.text
    return created.json()


def callback(keys, resource: dict, *, platform_key=None, apiv3_key=None, at=None) -> tuple:
    """A v3 payment callback as WeChat Pay sends it: the transaction sealed with the APIv3 key,
    the body signed by the platform key. Other keys make a forgery."""
    sealed = v3_wire.encrypt_resource(
        apiv3_key or keys.apiv3_key, json.dumps(resource), "transaction"
    )
    body = json.dumps(
        {
            "id": secrets.token_hex(18),
            "create_time": "2019-11-20T09:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {"original_type": "transaction", **sealed},
        }
    )
    key = v3_wire.load_private(platform_key or keys.platform_key_pem)
    headers = v3_wire.signed_headers(key, keys.platform_key_id, body, at or time.time())
    return body.encode(), {"Content-Type": "application/json", **headers}


def transaction(app, order_no: str, total_fen: int, transaction_id: str) -> dict:
    cfg = app.config["APP_CONFIG"]
    return {
        "appid": cfg.WECHAT_APPID,
        "mchid": cfg.WECHAT_MCH_ID,
        "out_trade_no": order_no,
        "transaction_id": transaction_id,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "success_time": "2019-11-20T09:05:00+08:00",
        "payer": {"openid": "oPAYER"},
        "amount": {"total": total_fen, "payer_total": total_fen, "currency": "CNY"},
    }


@pytest.mark.parametrize("pay_api", ["v3"], indirect=True)
def test_a_v3_callback_is_credited_once_and_a_forged_one_never(
    app, session, http, live_server, auth, v3_keys, tmp_path
):
    created = new_order(session, http, live_server, auth)
    number, total = created["order_no"], created["total_fen"]
    genuine = transaction(app, number, total, "4200000000201911200000000001")
    stranger = ensure_keys(tmp_path / "stranger")

    forgeries = [
        callback(v3_keys, genuine, platform_key=stranger.platform_key_pem),  # not WeChat's key
        callback(v3_keys, genuine, apiv3_key=stranger.apiv3_key),  # sealed under another key
        callback(v3_keys, genuine, at=time.time() - 3600),  # an old one replayed
        callback(v3_keys, {**genuine, "mchid": "1999999999"}),  # another merchant's payment
    ]
    for body, headers in forgeries:
        answer = http.post(live_server + V3_NOTIFY, data=body, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "FAIL"
    assert get_order(http, live_server, auth, number).json()["status"] == "created"

    body, headers = callback(v3_keys, genuine)
    for _ in range(2):  # WeChat may deliver it twice
        answer = http.post(live_server + V3_NOTIFY, data=body, headers=headers)
        assert (answer.status_code, answer.content) == (200, b"")
    assert get_order(http, live_server, auth, number).json()["status"] == "paid"

    # Another order reported paid by the same WeChat transaction: refused, not credited.
    second = new_order(session, http, live_server, auth, seq=2)
    reused = transaction(app, second["order_no"], second["total_fen"], genuine["transaction_id"])
    body, headers = callback(v3_keys, reused)
    assert http.post(live_server + V3_NOTIFY, data=body, headers=headers).status_code == 409
    assert get_order(http, live_server, auth, second["order_no"]).json()["status"] == "created"
    # A payment for an order we never made: WeChat keeps retrying, reconciliation shows it.
    body, headers = callback(v3_keys, transaction(app, "SI2019NEVERMADE0001", 100, "42000009"))
    assert http.post(live_server + V3_NOTIFY, data=body, headers=headers).status_code == 404


@BOTH_PAY_APIS
def test_an_order_placed_before_a_switch_is_still_paid_and_found(
    app, session, http, live_server, fake_wechat, auth, pay_api
):
    created = new_order(session, http, live_server, auth)
    number = created["order_no"]
    # The operator switches the API and restarts: the order's callback still comes the old way.
    cfg = app.config["APP_CONFIG"]
    cfg.WECHAT_PAY_API = "v3" if pay_api == "v2" else "v2"
    app.extensions.pop("payment_gateway", None)
    app.extensions.pop("other_payment_gateways", None)

    assert pay(http, fake_wechat, number).status_code == 200
    wait_until(lambda: get_order(http, live_server, auth, number).json()["status"] == "paid")
    paid = fresh(
        session, lambda s: s.scalar(select(PaymentOrder).where(PaymentOrder.order_no == number))
    )
    assert paid.transaction_id

    # The new API reads the old API's trade: a query finds it paid at the same amount.
    from backend.payments import gateway_from_config

    status = gateway_from_config(cfg).query(number)
    assert (status.state, status.total_fen, status.transaction_id) == (
        "paid",
        created["total_fen"],
        paid.transaction_id,
    )


def test_v3_callbacks_are_answered_503_where_v3_is_not_set_up(app_config, clean_db, http):
    from backend import create_app

    app = create_app({**app_config, "WECHAT_V3_KEY_DIR": None})
    with serve(app) as server:
        for path in (V3_NOTIFY, V3_REFUND_NOTIFY):
            answer = http.post(server.url + path, data=b"{}", headers={"Wechatpay-Serial": "x"})
            assert answer.status_code == 503
    app.extensions["db_engine"].dispose()
