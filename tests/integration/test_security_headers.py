"""Every answer carries the browser security headers; each HTML page may run only what we serve
(its own inline code only by hash); over https browsers are told to stay on https."""

from __future__ import annotations

import base64
import hashlib
import re

from backend import create_app
from tests.conftest import serve


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def directives(answer) -> dict[str, str]:
    policy = answer.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def assert_guarded(answer) -> dict[str, str]:
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] in ("no-referrer", "same-origin")
    assert "Strict-Transport-Security" not in answer.headers  # plain http here
    found = directives(answer)
    assert found["frame-ancestors"] == "'none'"
    assert found["object-src"] == "'none'"
    assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
    return found


def test_every_answer_json_page_or_error_carries_the_headers(live_server, http, with_regions):
    for path in ("/healthz", "/api/mp/v1/regions", "/api/mp/v1/nothing-here", "/staff/login"):
        found = assert_guarded(http.get(f"{live_server}{path}", allow_redirects=False))
        assert found["script-src"] == "'self'"


def test_the_pages_with_inline_code_allow_exactly_that_code(live_server, http, with_regions):
    docs = http.get(f"{live_server}/api/docs")
    (script,) = re.findall(r"<script>(.*?)</script>", docs.text, re.S)
    assert assert_guarded(docs)["script-src"] == f"'self' {sha256(script)}"

    unknown = http.get(f"{live_server}/q/410721999999")
    (style,) = re.findall(r"<style>(.*?)</style>", unknown.text, re.S)
    found = assert_guarded(unknown)
    assert found["style-src"] == f"'self' {sha256(style)}"
    assert found["script-src"] == "'self'"


def test_hsts_only_over_https_as_the_trusted_proxy_reports_it(app_config, http, with_regions):
    app = create_app({**app_config, "PROXY_FIX_X_FOR": 1})
    try:
        with serve(app) as server:
            secure = http.get(f"{server.url}/healthz", headers={"X-Forwarded-Proto": "https"})
            plain = http.get(f"{server.url}/healthz")
    finally:
        app.extensions["db_engine"].dispose()
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in plain.headers
