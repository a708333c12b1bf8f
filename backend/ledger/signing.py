"""Signatures both ways (docs/protocol.md): the tax bureau's and the data exchange's messages to
us, ours to them, and the fakes of both, all sign and verify here.

`X-Signature` is the lowercase hex HMAC-SHA256, keyed with the side's shared secret, of

    timestamp "\\n" METHOD "\\n" path "\\n" body

(`X-Timestamp` as sent, the upper-case method, the URL's path without the query, the raw body
bytes). Method and path are signed so that a message cannot be replayed to another endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlsplit

TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_HEADER = "X-Signature"
_HEX_SHA256 = re.compile(rb"[0-9a-f]{64}")


def signed_text(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    return f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body


def sign(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    text = signed_text(method, path, timestamp, body)
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, method: str, url: str, body: bytes, *, now: float
) -> dict[str, str]:
    """The headers of a JSON message to `url` (its path is signed) sent at `now` (Unix seconds)."""
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, method, urlsplit(url).path or "/", timestamp, body),
    }


def signature_matches(
    secret: str, method: str, path: str, timestamp: str, signature: str, body: bytes
) -> bool:
    """Compared as bytes in constant time; a header that is not 64 hex digits never matches
    (a non-ASCII one included: compare_digest refuses non-ASCII text)."""
    sent = signature.encode("utf-8", "surrogateescape")
    if not _HEX_SHA256.fullmatch(sent):
        return False
    return hmac.compare_digest(sign(secret, method, path, timestamp, body).encode(), sent)


def verify(
    secret: str,
    method: str,
    path: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float,
) -> str | None:
    """None when genuine and fresh, else why not (for the log; the caller answers 401)."""
    if not timestamp or not signature:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}"
    if not (timestamp.isascii() and timestamp.isdigit()):
        return f"{TIMESTAMP_HEADER} is not Unix seconds"
    if abs(now - int(timestamp)) > tolerance:
        return f"stale or future {TIMESTAMP_HEADER}"
    if not signature_matches(secret, method, path, timestamp, signature, body):
        return "signature does not verify"
    return None
