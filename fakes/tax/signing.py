"""The tax ledger's message signature, the same in both directions (docs/protocol.md), as the
bureau and the exchange apply it: the backend's own signing function (backend.ledger.signing),
so both sides cannot drift apart.

`X-Timestamp` is Unix seconds as a decimal string; `X-Signature` is the lowercase hex
HMAC-SHA256, keyed with the shared secret, of the timestamp, the method, the path and the raw
body bytes (uppercase hex does not match).
"""

from __future__ import annotations

import time

from flask import request

from backend.ledger import signing
from backend.ledger.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "check", "sign", "signed_headers"]

TOLERANCE_S = 300  # a timestamp older or newer than this is refused
sign = signing.sign


def signed_headers(secret: str, url: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Headers for a JSON body POSTed to `url`, signed now (or at `now`, epoch seconds)."""
    return signing.signed_headers(
        secret, "POST", url, body, now=time.time() if now is None else now
    )


def check(secret: str, body: bytes, now: float, tolerance_s: float = TOLERANCE_S) -> str | None:
    """None when the request being served is signed right and on time, else why not (for the
    401 answer)."""
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    signature = request.headers.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        return f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required"
    if not timestamp.isascii() or not timestamp.isdigit():
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    path = request.script_root + request.path
    if not signing.signature_matches(secret, request.method, path, timestamp, signature, body):
        return "signature does not match"
    if abs(now - int(timestamp)) > tolerance_s:
        return f"{TIMESTAMP_HEADER} is more than {tolerance_s:g} s away from the bureau's clock"
    return None
