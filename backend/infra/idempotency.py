"""Idempotency keys: the same key and the same request again get the first answer, never a second
payment or refund; the same key with another request is refused (orders and refunds alike)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from backend.errors import Refused

FIELD = "Idempotency-Key"


def request_hash(**request: Any) -> str:
    """A stable digest of a request's meaning (keys sorted, no whitespace)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay_of(stored_hash: str | None, digest: str, *, what: str) -> None:
    """Accept a replay of the request that made the stored `what` (订单, 退款申请), or refuse."""
    if stored_hash != digest:
        raise Refused(
            f"这个 Idempotency-Key 已用于另一笔不同内容的{what}；新{what}请使用新的 Idempotency-Key。",
            reason="idempotency_key_reused",
            field=FIELD,
        )
