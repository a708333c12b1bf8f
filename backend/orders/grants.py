"""Registration refs as a resident holds them: bound to the WeChat user who looked the person up.

A lookup (ID number + name) answers with each registration's ref followed by a MAC of the ref
and the caller's openid (HMAC-SHA256 under SECRET_KEY); creating an order takes only such a
granted ref, checked against the caller's openid. A ref seen by resident A (a shared screen, a
forwarded link) is therefore of no use to resident B: B must look the person up themselves.

Stateless on purpose: the lookup, the busiest endpoint, stays a read (no table of grants to
write and prune), and the same user always gets the same granted ref, so the order answers can
show it again and the phone can match them to its lookup. No expiry: the user who holds a grant
knows the ID number and name anyway and could look again at any time; what bounds holding
registrations is the open-order cap and the order's time to live.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from backend.errors import Refused

_SEP = "."
_MAC_CHARS = 16  # 96 bits


def _mac(secret_key: str, openid: str, ref: str) -> str:
    digest = hmac.new(
        secret_key.encode(), f"registration-ref:{openid}:{ref}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]


def grant(secret_key: str, openid: str, ref: str) -> str:
    """The ref as `openid` may use it to order."""
    return f"{ref}{_SEP}{_mac(secret_key, openid, ref)}"


def redeem(secret_key: str, openid: str, granted: str) -> str:
    """The registration ref inside `granted`, if it was granted to `openid`; otherwise Refused,
    the same answer as for a ref that does not exist (nothing tells the two apart)."""
    ref, _, mac = granted.rpartition(_SEP)
    if not ref or not hmac.compare_digest(mac, _mac(secret_key, openid, ref)):
        raise unknown_registrations([granted])
    return ref


def unknown_registrations(refs: list[str]) -> Refused:
    return Refused(
        f"找不到参保登记 {', '.join(refs)}，请重新查询。",
        reason="unknown_registration",
        field="items",
    )
