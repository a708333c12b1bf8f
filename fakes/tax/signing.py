"""The tax ledger's message signature, the same in both directions (design.md section 8).

`X-Timestamp` is Unix seconds as a decimal string; `X-Signature` is the lowercase hex
HMAC-SHA256, keyed with the shared secret, of `timestamp + "." + raw body bytes` (uppercase hex does not match).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_HEADER = "X-Signature"
TOLERANCE_S = 300  # a timestamp older or newer than this is refused


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Headers for a JSON body signed now (or at `now`, epoch seconds)."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def check(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance_s: float = TOLERANCE_S,
) -> str | None:
    """None when the message is signed right and on time, else why not (for the 401 answer)."""
    if not timestamp or not signature:
        return f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required"
    if not timestamp.isascii() or not timestamp.isdigit():
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    if not hmac.compare_digest(signature.encode("utf-8"), sign(secret, timestamp, body).encode()):
        return "signature does not match"
    if abs(now - int(timestamp)) > tolerance_s:
        return f"{TIMESTAMP_HEADER} is more than {tolerance_s:g} s away from the bureau's clock"
    return None
