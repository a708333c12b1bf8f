"""What a resident's phone does, over real HTTP: sign in, look up, order, and pay at the fake."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from backend.auth import resident_tokens
from backend.orders import grants

# The SECRET_KEY of the test apps (tests/conftest.py uses it).
TEST_SECRET = "test-secret-key"


def sign_in(http, base_url, wx, user="resident") -> dict[str, str]:
    code = http.post(f"{wx.url}/_control/login", json={"user": user}).json()["code"]
    token = http.post(f"{base_url}/api/mp/v1/session", json={"code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def lookup(http, base_url, auth, id_number, name, **extra):
    return http.post(
        f"{base_url}/api/mp/v1/lookup",
        json={"id_number": id_number, "name": name, **extra},
        headers=auth,
    )


def openid_of(auth) -> str:
    token = auth["Authorization"].removeprefix("Bearer ")
    return resident_tokens.verify(TEST_SECRET, token, 10**10, now=datetime.now(UTC))


def granted(auth, ref: str) -> str:
    """A registration's ref as the signed-in user's own lookup gives it (a stored ref, as a test
    takes it from the database, is granted; one from a lookup answer already is)."""
    return ref if "." in ref else grants.grant(TEST_SECRET, openid_of(auth), ref)


def order(http, base_url, auth, items, trade_type="JSAPI", key=None):
    """POST an order; `items` are registration refs or (ref, grade_yuan) pairs, refs from the
    database or from this user's lookup."""
    body = {
        "items": [
            {"registration_ref": granted(auth, i)}
            if isinstance(i, str)
            else {"registration_ref": granted(auth, i[0]), "grade_yuan": i[1]}
            for i in items
        ],
        "trade_type": trade_type,
    }
    headers = {**auth, "Idempotency-Key": key or uuid.uuid4().hex}
    return http.post(f"{base_url}/api/mp/v1/orders", json=body, headers=headers)


def pay_jsapi(http, wx, pay_params, **notify):
    """The payer confirms wx.requestPayment with the parameters the server signed."""
    return http.post(f"{wx.url}/_control/request-payment", json={**pay_params, **notify})


def pay(http, wx, order_no, **options):
    return http.post(f"{wx.url}/_control/pay", json={"out_trade_no": order_no, **options})


def get_order(http, base_url, auth, order_no):
    return http.get(f"{base_url}/api/mp/v1/orders/{order_no}", headers=auth)


def cancel_order(http, base_url, auth, order_no):
    """The payer cancels an unpaid order of theirs."""
    return http.post(f"{base_url}/api/mp/v1/orders/{order_no}/cancel", headers=auth)
