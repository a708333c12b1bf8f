"""A notification storm: WeChat Pay's payment notifications, signed as the platform signs them,
delivered many times at once; and the invariants the money must keep afterwards. Shared by the
storm test and the storm benchmark (bench/storm_bench.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection

from fakes.wechat import signing, xmlwire


def notification(trade: dict, key: str) -> bytes:
    """The payment notification of a paid trade, from the fake platform's view of it
    (GET /_control/trades/<out_trade_no>), signed with the merchant key as WeChat signs it."""
    fields = {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": trade["appid"],
        "mch_id": trade["mch_id"],
        "nonce_str": secrets.token_hex(16),
        "result_code": "SUCCESS",
        "openid": trade["openid"],
        "trade_type": trade["trade_type"],
        "bank_type": "OTHERS",
        "total_fee": trade["total_fee"],
        "fee_type": "CNY",
        "cash_fee": trade["total_fee"],
        "transaction_id": trade["transaction_id"],
        "out_trade_no": trade["out_trade_no"],
        "time_end": trade["time_end"],
    }
    fields["sign"] = signing.sign(fields, key, trade.get("sign_type") or signing.MD5)
    return xmlwire.render(fields).encode()


def paid_at_platform(http, wx_url: str, order_no: str, *, force: bool = False) -> dict:
    """The payer pays at the platform; no notification is sent (the storm delivers it)."""
    answer = http.post(
        f"{wx_url}/_control/pay",
        json={"out_trade_no": order_no, "notify": "missing", "force": force},
    )
    assert answer.status_code == 200, answer.text
    return http.get(f"{wx_url}/_control/trades/{order_no}").json()


def broken_invariants(conn: Connection, order_nos: Iterable[str]) -> dict[str, int]:
    """What must be zero once every one of these orders is paid: each credited exactly once."""
    numbers = list(order_nos)
    params = {"numbers": numbers}
    ours = "o.order_no = ANY(:numbers)" if conn.dialect.name == "postgresql" else None
    if ours is None:  # SQLite: an expanding IN
        from sqlalchemy import bindparam

        def q(sql: str) -> int:
            statement = text(sql.replace("{ours}", "o.order_no IN :numbers")).bindparams(
                bindparam("numbers", expanding=True)
            )
            return conn.execute(statement, params).scalar_one()
    else:

        def q(sql: str) -> int:
            return conn.execute(text(sql.replace("{ours}", ours)), params).scalar_one()

    return {
        "orders_not_paid": len(numbers)
        - q("SELECT count(*) FROM payment_order o WHERE {ours} AND o.status = 'paid'"),
        "orders_credited_twice": q(
            "SELECT count(*) FROM (SELECT a.target FROM audit_entry a JOIN payment_order o "
            "ON o.order_no = a.target WHERE {ours} AND a.action = 'order.paid' "
            "GROUP BY a.target HAVING count(*) > 1) twice"
        ),
        "orders_without_paid_audit": q(
            "SELECT count(*) FROM payment_order o WHERE {ours} AND NOT EXISTS (SELECT 1 FROM "
            "audit_entry a WHERE a.target = o.order_no AND a.action = 'order.paid')"
        ),
        "items_without_one_ledger_message": q(
            "SELECT count(*) FROM payment_order o JOIN order_item i ON i.order_id = o.id "
            "WHERE {ours} AND (SELECT count(*) FROM ledger_message m "
            "WHERE m.order_item_id = i.id AND m.kind = 'payment') <> 1"
        ),
        "registrations_with_two_payment_messages": q(
            "SELECT count(*) FROM (SELECT m.registration_id FROM ledger_message m "
            "JOIN order_item i ON i.id = m.order_item_id JOIN payment_order o "
            "ON o.id = i.order_id WHERE {ours} AND m.kind = 'payment' "
            "GROUP BY m.registration_id HAVING count(*) > 1) twice"
        ),
        "registrations_not_paid": q(
            "SELECT count(*) FROM payment_order o JOIN order_item i ON i.order_id = o.id "
            "JOIN registration r ON r.id = i.registration_id WHERE {ours} AND r.status <> 'paid'"
        ),
    }


def journal_paid(conn: Connection) -> int:
    """Paid registrations the progress journal counts (one row each, never two)."""
    return conn.execute(text("SELECT coalesce(sum(paid), 0) FROM progress_change")).scalar_one()
