"""WeChat Pay v2 signatures (MD5 and HMAC-SHA256) and the JSAPI paySign.

Sign = sort the non-empty parameters (all but `sign`) by name, join as `k=v&…`, append `&key=KEY`,
then uppercase hex MD5, or uppercase hex HMAC-SHA256 keyed with KEY over that same string.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
SIGN_TYPES = (MD5, HMAC_SHA256)
# The five wx.requestPayment fields a v2 paySign covers (appId is signed though never passed).
PAY_SIGN_FIELDS = ("appId", "nonceStr", "package", "signType", "timeStamp")


def sign(params: Mapping[str, object], key: str, sign_type: str = MD5) -> str:
    pairs = [
        f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] not in ("", None)
    ]
    text = "&".join([*pairs, f"key={key}"]).encode()
    if sign_type == HMAC_SHA256:
        return hmac.new(key.encode(), text, hashlib.sha256).hexdigest().upper()
    if sign_type == MD5:
        return hashlib.md5(text).hexdigest().upper()
    raise ValueError(f"unknown sign_type {sign_type!r}")


def verify(params: Mapping[str, str], key: str) -> bool:
    """Check `sign` with the algorithm the parameters name (`sign_type`, MD5 when absent)."""
    sign_type = params.get("sign_type") or MD5
    given = params.get("sign") or ""
    if sign_type not in SIGN_TYPES or not given:
        return False
    return hmac.compare_digest(given, sign(params, key, sign_type))


def pay_sign(params: Mapping[str, str], key: str) -> str:
    """paySign of wx.requestPayment parameters, over exactly the five signed fields."""
    signed = {k: params.get(k, "") for k in PAY_SIGN_FIELDS}
    return sign(signed, key, signed["signType"] or MD5)


def sandbox_key(mch_id: str, api_key: str) -> str:
    """The sandbox sign key getsignkey hands out: stable per merchant, so it survives restarts
    and resets (wechatpy fetches it once per client and keeps it)."""
    return hashlib.md5(f"sandboxnew:{mch_id}:{api_key}".encode()).hexdigest()
