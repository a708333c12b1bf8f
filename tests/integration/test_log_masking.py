"""Logs at DEBUG (everything the libraries say too) never show the WeChat Pay signing keys, a
full ID number, or a failed statement's parameters."""

from __future__ import annotations

import contextlib
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backend import create_app
from backend.payments.gateway import GatewayError
from backend.payments.wechat.gateway import WeChatPayGateway
from fakes.wechat.signing import sandbox_key
from tests.conftest import serve
from tests.support.builders import add_person, age_on_2019
from tests.support.regions import load_regions
from tests.support.resident import lookup, order, sign_in


def test_debug_logs_of_an_order_never_show_the_keys_or_the_id_number(
    app_config, clean_db, fake_wechat, http, caplog
):
    caplog.set_level(logging.DEBUG)
    app = create_app({**app_config, "LOG_LEVEL": "DEBUG"})
    cfg = app.config["APP_CONFIG"]
    try:
        with app.extensions["db_sessions"]() as session:
            load_regions(session)
            person, _ = add_person(session, name="张三", birth=age_on_2019(40))
            session.commit()
            id_number = person.id_number
        with serve(app) as server:
            auth = sign_in(http, server.url, fake_wechat, "payer")
            found = lookup(http, server.url, auth, id_number, "张三").json()
            refs = [
                (r["ref"], 300 if r["scheme"] == "pension" else None)
                for r in found["registrations"]
            ]
            created = order(http, server.url, auth, refs)
            assert created.status_code == 201, created.text
        # Sandbox mode: wechatpy asks WeChat for the sandbox's signing key, then queries with it.
        sandbox = WeChatPayGateway(
            appid=cfg.WECHAT_APPID,
            mch_id=cfg.WECHAT_MCH_ID,
            api_key=cfg.WECHAT_API_KEY,
            base_url=fake_wechat.url + "/",
            notify_url="http://127.0.0.1/notify",
            refund_notify_url="http://127.0.0.1/refund-notify",
            sandbox=True,
        )
        # The sandbox never saw this order; what matters is what was logged on the way.
        with contextlib.suppress(GatewayError):
            sandbox.query(created.json()["order_no"])
    finally:
        app.extensions["db_engine"].dispose()
    logged = caplog.text
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG was on
    assert cfg.WECHAT_API_KEY not in logged
    assert sandbox_key(cfg.WECHAT_MCH_ID, cfg.WECHAT_API_KEY) not in logged
    assert id_number not in logged


def test_a_failed_statement_never_carries_its_parameters(app):
    id_number = "41072119800101001X"
    with pytest.raises(DBAPIError) as failed, app.extensions["db_engine"].connect() as conn:
        conn.execute(
            text("SELECT * FROM no_such_table WHERE id_number = :id AND name = :name"),
            {"id": id_number, "name": "张三"},
        )
    assert id_number not in str(failed.value)
    assert "张三" not in str(failed.value)
