"""How large a request body each route takes, refused before a byte of it is read.

A resident's JSON is a few hundred bytes and WeChat's and the bureau's callbacks a few KB, so
they get small limits; only the file uploads (imports, a collector list) get MAX_CONTENT_LENGTH.
A declared Content-Length over the limit is answered 413 at once; a chunked body (no length) is
read up to the limit and one byte more (request.max_content_length bounds the read), also 413
when it is longer. Uploads stream (multipart) and are bounded by Werkzeug the same way.

Registered after the API's authentication gate (backend.api.gate), so an anonymous caller is
answered 401 before its body's size even matters.
"""

from __future__ import annotations

import re

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from backend.payments.wechat.routes import (
    NOTIFY_PATH,
    REFUND_NOTIFY_PATH,
    V3_NOTIFY_PATH,
    V3_REFUND_NOTIFY_PATH,
)

KB = 1024
MB = 1024 * KB
RESIDENT_LIMIT = 16 * KB  # the largest resident body (an order of a household) is under 2 KB
CALLBACK_LIMIT = 64 * KB  # WeChat's notices and one treasury entry are under 4 KB
# A declaration's entries come in one message: up to 10,000 of about 140 bytes each.
DECLARATION_ENTRIES_LIMIT = 2 * MB
STAFF_LIMIT = 1 * MB  # staff JSON and dashboard forms (a school batch lists at most a few hundred)
UPLOAD = None  # the app's MAX_CONTENT_LENGTH: spreadsheets uploaded by staff

# First match wins; anything else gets STAFF_LIMIT.
LIMITS: tuple[tuple[re.Pattern[str], int | None], ...] = (
    (re.compile(r"/api/mp/v1/"), RESIDENT_LIMIT),
    (re.compile(re.escape(NOTIFY_PATH) + "$"), CALLBACK_LIMIT),
    (re.compile(re.escape(REFUND_NOTIFY_PATH) + "$"), CALLBACK_LIMIT),
    (re.compile(re.escape(V3_NOTIFY_PATH) + "$"), CALLBACK_LIMIT),
    (re.compile(re.escape(V3_REFUND_NOTIFY_PATH) + "$"), CALLBACK_LIMIT),
    (re.compile(r"/api/tax/v1/declaration-entries$"), DECLARATION_ENTRIES_LIMIT),
    (re.compile(r"/api/tax/v1/"), CALLBACK_LIMIT),
    (re.compile(r"/api/staff/v1/imports/"), UPLOAD),
    (re.compile(r"/api/staff/v1/collector-batches/[^/]+/upload$"), UPLOAD),
    (re.compile(r"/staff/collect/upload$"), UPLOAD),
)


def limit_for(path: str, upload_limit: int) -> int:
    """The largest body `path` takes, in bytes."""
    for pattern, limit in LIMITS:
        if pattern.match(path):
            return upload_limit if limit is UPLOAD else limit
    return STAFF_LIMIT


def init_app(app: Flask) -> None:
    app.before_request(limit_body)
    app.register_error_handler(RequestEntityTooLarge, too_large)


def limit_body():
    upload_limit = current_app.config["MAX_CONTENT_LENGTH"]
    limit = limit_for(request.path, upload_limit)
    request.max_content_length = limit
    if request.content_length is not None:
        if request.content_length > limit:
            raise RequestEntityTooLarge()  # a blueprint may word it (imports: split the file)
        return None
    if limit < upload_limit and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # Werkzeug stops reading a body without a length at the limit but hands over what it
        # read, cut short, without an error: read one byte more here to tell "too large" apart.
        # Kept for the view (get_data and the parsers use the cached body).
        request.max_content_length = limit + 1
        too_long = len(request.get_data(cache=True)) > limit
        request.max_content_length = limit
        if too_long:
            raise RequestEntityTooLarge()
    return None


def too_large(_exc: RequestEntityTooLarge):
    limit = request.max_content_length or current_app.config["MAX_CONTENT_LENGTH"]
    size = f"{limit // MB} MB" if limit >= MB else f"{limit // KB} KB"
    body = {
        "code": 413,
        "status": "Request Entity Too Large",
        "message": f"请求内容过大：此接口最多接受 {size}。",
    }
    response = jsonify(body)
    response.status_code = 413
    # The unread body would be taken for the next request on a kept-alive connection.
    response.headers["Connection"] = "close"
    return response
