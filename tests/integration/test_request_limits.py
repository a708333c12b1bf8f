"""Request bodies: each route takes only what it needs, and an anonymous caller is answered 401
before its body is read (backend.infra.body_limits, backend.api.gate)."""

from __future__ import annotations

import io
import os
import socket
import time
import zipfile
from urllib.parse import urlsplit

import pytest

from backend.payments.wechat.routes import NOTIFY_PATH
from tests.support.files import REGISTRATION_HEADER, registration, write_xlsx
from tests.support.resident import sign_in

pytestmark = pytest.mark.usefixtures("with_regions")


def raw_exchange(base_url: str, head: str, body: bytes, *, timeout: float = 5.0) -> bytes:
    """Send `head` and `body` as they are over a socket, and read the answer's first bytes."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + body)
        return sock.recv(65536)


def test_an_anonymous_order_is_refused_before_its_body_is_read(live_server):
    """60 MB announced, 1 KB sent: the 401 comes at once, without waiting for the rest."""
    head = (
        "POST /api/mp/v1/orders HTTP/1.1\r\n"
        f"Host: {urlsplit(live_server).netloc}\r\n"
        "Content-Type: application/json\r\n"
        "Idempotency-Key: abcdefgh12345678\r\n"
        f"Content-Length: {60 * 1024 * 1024}\r\n\r\n"
    )
    started = time.monotonic()
    answer = raw_exchange(live_server, head, b"[" + b"1," * 512)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert time.monotonic() - started < 3


def test_a_resident_body_over_16_kb_gets_413(live_server, http, fake_wechat):
    auth = sign_in(http, live_server, fake_wechat)
    body = b'{"id_number": "410721198001010019", "name": "' + b"x" * (17 * 1024) + b'"}'
    answer = http.post(
        f"{live_server}/api/mp/v1/lookup",
        data=body,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["message"] == "请求内容过大：此接口最多接受 16 KB。"


def test_a_wechat_notice_over_64_kb_gets_413_even_when_chunked(live_server, http):
    notice = b"<xml><return_code>SUCCESS</return_code>" + b" " * (70 * 1024) + b"</xml>"
    answer = http.post(live_server + NOTIFY_PATH, data=notice)
    assert answer.status_code == 413
    # Without a Content-Length the body is cut off as it passes the limit.
    head = (
        f"POST {NOTIFY_PATH} HTTP/1.1\r\nHost: {urlsplit(live_server).netloc}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    chunks = b"".join(b"%x\r\n%s\r\n" % (4096, b" " * 4096) for _ in range(18)) + b"0\r\n\r\n"
    assert raw_exchange(live_server, head, chunks).startswith(b"HTTP/1.1 413")


def test_an_import_of_2_mb_still_works(live_server, http, staff_token, tmp_path):
    path = write_xlsx(tmp_path / "day1.xlsx", REGISTRATION_HEADER, [registration(1)])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_STORED) as book:
        book.writestr("docProps/padding.bin", os.urandom(2 * 1024 * 1024))  # not a sheet: ignored
    content = path.read_bytes()
    assert len(content) > 2 * 1024 * 1024
    answer = http.post(
        f"{live_server}/api/staff/v1/imports/registrations",
        headers={"Authorization": "Bearer " + staff_token("agency", "410721")},
        files={"file": ("day1.xlsx", io.BytesIO(content))},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["inserted"] == 1
