"""The mini-program mock's server: its pages, and the resident API and WeChat stand-ins passed
through unchanged on its own origin (the pages themselves are tested in tests/browser)."""

from __future__ import annotations

import http.client

import pytest

from tests.support.miniprogram import server_module
from tests.support.regions import VILLAGE
from tests.support.servers import ServerThread


@pytest.fixture
def mock(live_server, fake_wechat, with_regions):
    app = server_module().create_app(live_server, fake_wechat.url + "/")
    with ServerThread(app) as server:
        yield server


def test_the_pages_are_served(mock, http):
    page = http.get(mock.url + "/")
    assert page.status_code == 200
    assert "城乡居民两险缴费" in page.text
    assert http.get(mock.url + "/static/app.js").status_code == 200
    assert http.get(mock.url + "/static/../server.py").status_code == 404


def test_sign_in_and_the_resident_api_pass_through_unchanged(mock, http):
    login = http.post(mock.url + "/wx/login", json={"user": "someone"})
    assert login.status_code == 200 and login.json()["code"]
    session = http.post(mock.url + "/api/mp/v1/session", json={"code": login.json()["code"]})
    assert session.status_code == 200
    auth = {"Authorization": "Bearer " + session.json()["token"]}

    regions = http.get(mock.url + "/api/mp/v1/regions", params={"parent": VILLAGE[:9] + "000"})
    assert VILLAGE in [r["code"] for r in regions.json()]

    refused = http.post(
        mock.url + "/api/mp/v1/lookup",
        json={"id_number": "41072119800101001", "name": "张三"},
        headers=auth,
    )
    assert refused.status_code == 422
    assert refused.json()["message"] == "身份证号应为18位，您输入了17位"
    assert http.get(mock.url + "/api/mp/v1/orders").status_code == 401
    mine = http.get(mock.url + "/api/mp/v1/orders", headers=auth)
    assert mine.status_code == 200 and mine.json() == []
    assert "X-Pagination" in mine.headers


def test_only_the_resident_api_and_the_wechat_stand_ins_are_reachable(mock, http, staff_token):
    admin = {"Authorization": "Bearer " + staff_token("admin")}
    assert http.get(mock.url + "/api/staff/v1/me", headers=admin).status_code == 404
    assert http.post(mock.url + "/wx/reset", json={}).status_code == 404
    assert http.post(mock.url + "/wx/pay", json={}).status_code == 404


def test_an_unreachable_backend_is_said_in_plain_words(fake_wechat, http):
    app = server_module().create_app("http://127.0.0.1:9", fake_wechat.url)
    with ServerThread(app) as server:
        answer = http.get(server.url + "/api/mp/v1/regions")
    assert answer.status_code == 502
    assert answer.json()["message"] == "服务暂时无法连接，请稍后再试。"


@pytest.mark.parametrize(
    "path",
    [
        "/api/mp/v1/%2e%2e/%2e%2e/staff/v1/me",
        "/api/mp/v1/%2E%2E/%2E%2E/staff/v1/me",
        "/api/mp/v1/..%2f..%2fstaff/v1/me",
        "/api/mp/v1/..%5c..%5cstaff/v1/me",
        "/api/mp/v1/%252e%252e/%252e%252e/staff/v1/me",
        "/api/mp/v1/regions/../../../staff/v1/me",
    ],
)
def test_no_escape_from_the_resident_api(mock, staff_token, path):
    """Paths are decoded and normalised before passing: nothing outside /api/mp/v1/ is reached."""
    admin = {"Authorization": "Bearer " + staff_token("admin")}
    host, port = mock.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", path, headers=admin)  # as written: no client-side normalising
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    assert answer.status == 404, body
    assert "role" not in body.decode() and "admin" not in body.decode()
