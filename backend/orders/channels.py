"""How a resident pays: the resident API's trade types (design.md section 6) and the collection
channel each is (the channel the bureau is told, and the payment port's word)."""

from __future__ import annotations

TRADE_TYPES = ("JSAPI", "NATIVE")
CHANNELS = {"JSAPI": "wechat_miniprogram", "NATIVE": "wechat_qr"}
