"""Security headers on every answer.

Every answer: no MIME sniffing, never framed (clickjacking of the staff dashboard), no Referer
sent elsewhere (page addresses carry region codes and batch numbers), and a Content-Security-Policy
that lets a page run only scripts and style sheets served from here (the staff dashboard sets its
own, the same, in backend/dashboard/views.py). Swagger UI's page (flask-smorest's template) has an
inline script, allowed by its hash; the village link's page an inline style, likewise.
Over https (request.is_secure, which honours ProxyFix) browsers are told to keep to https.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

HSTS = "max-age=31536000; includeSubDomains"
POLICY = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self'{styles}; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_INLINE = re.compile(rb"<(script|style)>(.*?)</\1>", re.S)


def init_app(app: Flask, *, inline_allowed: tuple[str, ...] = ()) -> None:
    """`inline_allowed`: paths of pages whose own inline scripts and styles are allowed (by hash):
    only pages whose whole text the server writes, with nothing a visitor sent in them."""

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if "Content-Security-Policy" not in headers:
            scripts = styles = ""
            if request.path in inline_allowed and response.mimetype == "text/html":
                scripts, styles = _inline_hashes(response.get_data())
            headers["Content-Security-Policy"] = POLICY.format(scripts=scripts, styles=styles)
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def style_policy(style: str) -> str:
    """The policy of a page carrying this one inline <style> block (and no script)."""
    return POLICY.format(scripts="", styles=f" '{_sha256(style.encode())}'")


def _inline_hashes(page: bytes) -> tuple[str, str]:
    found: dict[bytes, list[str]] = {b"script": [], b"style": []}
    for kind, body in _INLINE.findall(page):
        found[kind].append(f" '{_sha256(body)}'")
    return "".join(found[b"script"]), "".join(found[b"style"])


def _sha256(body: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode()
