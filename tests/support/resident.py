"""What a resident's phone does, over real HTTP: sign in, look up, order, and pay at the fake."""

from __future__ import annotations

import uuid


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


def order(http, base_url, auth, items, trade_type="JSAPI", key=None):
    """POST an order; `items` are registration refs or (ref, grade_yuan) pairs."""
    body = {
        "items": [
            {"registration_ref": i}
            if isinstance(i, str)
            else {"registration_ref": i[0], "grade_yuan": i[1]}
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
