"""Signatures both ways (design.md section 8): hex HMAC-SHA256 of `timestamp + "." + body`."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float,
) -> str | None:
    """None when genuine and fresh, else why not (for the log; the caller answers 401)."""
    if not timestamp or not signature:
        return "missing X-Timestamp or X-Signature"
    try:
        sent = int(timestamp)
    except ValueError:
        return "X-Timestamp is not Unix seconds"
    if abs(now - sent) > tolerance:
        return "stale or future X-Timestamp"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.lower()):
        return "signature does not verify"
    return None
