"""The mini-program mock's server: the static pages, and same-origin passages to the backend and WeChat.

`python miniprogram-mock/server.py [--host H] [--port P] [--api-url URL] [--wechat-url URL]`

    GET  /, /static/...            the pages (plain HTML, CSS and JavaScript, no build step)
    *    /api/mp/v1/...            passed to the backend's resident API unchanged (status, JSON body);
                                   only paths still under /api/mp/v1/ once decoded and normalised
    POST /wx/login                 wx.login() on the phone: {"user"} -> {"code", "openid"}
    POST /wx/request-payment       wx.requestPayment(): the order's signed `pay` parameters
    POST /wx/cancel                the payer backs out of the payment sheet: {"out_trade_no"}
    POST /wx/subscribe             wx.requestSubscribeMessage(): {"user", "tmplIds"} -> each answer

The /wx/ passages go to the fake WeChat platform's /_control/ endpoints, which play the phone's side
of WeChat. Only the resident API is passed on: the page cannot reach staff endpoints through here.

Environment defaults: MINIPROGRAM_PORT (8003), MINIPROGRAM_API_URL (http://127.0.0.1:$PORT, 8000),
FAKE_WECHAT_URL (http://127.0.0.1:$FAKE_WECHAT_PORT/, 8001).
"""

from __future__ import annotations

import argparse
import os
import posixpath
import re
from pathlib import Path

import requests
from flask import Flask, Response, current_app, jsonify, request, send_from_directory

STATIC_DIR = Path(__file__).resolve().parent / "static"
TIMEOUT_S = 30
# Request headers the backend needs; everything else (cookies, Host, ...) stays here.
FORWARDED_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Accept")
# Response headers the page reads.
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "X-Pagination", "Idempotent-Replayed", "Retry-After")
UNREACHABLE = "服务暂时无法连接，请稍后再试。"
WX_ACTIONS = (
    "login",
    "request-payment",
    "cancel",
    "subscribe",
)  # /wx/<action> -> /_control/<action>
RESIDENT_PREFIX = "/api/mp/v1/"
# What a resident API path is made of: no "%" (a second round of escapes), no backslash.
RESIDENT_PATH = re.compile(r"/api/mp/v1/[A-Za-z0-9._~/-]+")
ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)


def resident_path(decoded: str, raw: str) -> str | None:
    """The backend path to pass a request on to, or None when it would leave the resident API.

    `decoded` is the request path with its escapes decoded once (Werkzeug's), `raw` the path as
    sent. Encoded slashes and backslashes are refused outright (they hide segments); dot segments
    are resolved before the prefix is checked, so `/api/mp/v1/%2e%2e/...` cannot reach staff.
    """
    if ENCODED_SEPARATOR.search(raw) or "\\" in decoded:
        return None
    normal = posixpath.normpath(decoded)
    if decoded.endswith("/") and not normal.endswith("/"):
        normal += "/"
    if not normal.startswith(RESIDENT_PREFIX) or not RESIDENT_PATH.fullmatch(normal):
        return None
    return normal


def create_app(api_url: str, wechat_url: str) -> Flask:
    """`api_url`: the backend (http://127.0.0.1:8000); `wechat_url`: the fake WeChat platform.

    Both are kept in app.config (API_URL, WECHAT_URL) and read on every request, so a test may
    point a running server elsewhere.
    """
    app = Flask(__name__, static_folder=None)
    app.config.update(API_URL=api_url.rstrip("/"), WECHAT_URL=wechat_url.rstrip("/"))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    http = requests.Session()

    def relay(method: str, url: str, headers: dict[str, str]) -> Response:
        try:
            answer = http.request(
                method,
                url,
                params=request.query_string or None,
                data=request.get_data(),
                headers=headers,
                timeout=TIMEOUT_S,
                allow_redirects=False,
            )
        except requests.RequestException:
            return jsonify(code=502, status="Bad Gateway", message=UNREACHABLE), 502
        kept = {k: answer.headers[k] for k in FORWARDED_RESPONSE_HEADERS if k in answer.headers}
        return Response(answer.content, status=answer.status_code, headers=kept)

    @app.get("/")
    def index():
        return _static("index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str):
        return _static(name)

    @app.route("/api/mp/v1/<path:rest>", methods=["GET", "POST"])
    def resident_api(rest: str):
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
        path = resident_path(request.path, raw.partition("?")[0])
        if path is None:
            return jsonify(code=404, status="Not Found", message="没有这个接口。"), 404
        headers = {k: request.headers[k] for k in FORWARDED_REQUEST_HEADERS if k in request.headers}
        if request.remote_addr:
            headers["X-Forwarded-For"] = request.remote_addr
        return relay(request.method, current_app.config["API_URL"] + path, headers)

    @app.post("/wx/<action>")
    def wechat(action: str):
        if action not in WX_ACTIONS:
            return jsonify(errMsg=f"{action}:fail unknown"), 404
        url = f"{current_app.config['WECHAT_URL']}/_control/{action}"
        return relay("POST", url, {"Content-Type": "application/json"})

    return app


def _static(name: str) -> Response:
    response = send_from_directory(STATIC_DIR, name, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


def main() -> None:
    port = os.environ.get("PORT", "8000")
    wechat_port = os.environ.get("FAKE_WECHAT_PORT", "8001")
    parser = argparse.ArgumentParser(description="mini-program mock (the resident's phone)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("MINIPROGRAM_PORT") or "8003")
    )
    parser.add_argument(
        "--api-url",
        default=os.environ.get("MINIPROGRAM_API_URL") or f"http://127.0.0.1:{port}",
        help="the backend whose resident API the pages use",
    )
    parser.add_argument(
        "--wechat-url",
        default=os.environ.get("FAKE_WECHAT_URL") or f"http://127.0.0.1:{wechat_port}/",
        help="the fake WeChat platform (wx.login and wx.requestPayment stand-ins)",
    )
    args = parser.parse_args()
    from werkzeug.serving import run_simple

    print(
        f"mini-program mock on http://{args.host}:{args.port}/ "
        f"(API {args.api_url}, WeChat {args.wechat_url})",
        flush=True,
    )
    run_simple(args.host, args.port, create_app(args.api_url, args.wechat_url), threaded=True)


if __name__ == "__main__":
    main()
