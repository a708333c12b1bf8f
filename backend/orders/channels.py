"""How a registration is paid: the resident API's trade types (design.md section 6) and the
collection channel each is (the channel the bureau is told, and the payment port's word), and the
channel of a registration the government pays in full (design.md section 8: payer finance)."""

from __future__ import annotations

TRADE_TYPES = ("JSAPI", "NATIVE")
CHANNELS = {"JSAPI": "wechat_miniprogram", "NATIVE": "wechat_qr"}
GOVERNMENT = "government"  # 代缴/资助, confirmed in government batches
