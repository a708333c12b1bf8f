"""How a registration is paid: the resident API's trade types (design.md section 6) and the
collection channel each is (the channel the bureau is told, and the payment port's word), and the
channels of the collectors, the schools and the government (design.md section 8; payer finance
for the government's)."""

from __future__ import annotations

TRADE_TYPES = ("JSAPI", "NATIVE")
CHANNELS = {"JSAPI": "wechat_miniprogram", "NATIVE": "wechat_qr"}
GOVERNMENT = "government"  # 代缴/资助, confirmed in government batches
COLLECTOR = (
    "collector"  # 代征单位: a village, township or health service institution collects locally
)
SCHOOL = "school"  # a school pays its students' medical contributions, possibly for several years

# Every channel, in the order files and screens list them.
ALL_CHANNELS = (*CHANNELS.values(), COLLECTOR, SCHOOL, GOVERNMENT)

# The four ways progress and bulletins count payments: WeChat self-service (the mini-program and
# the village QR together), collecting units, schools and the government.
WECHAT = "wechat"
CHANNEL_GROUPS = (WECHAT, COLLECTOR, SCHOOL, GOVERNMENT)
GROUP_OF = {**{channel: WECHAT for channel in CHANNELS.values()}, **{g: g for g in CHANNEL_GROUPS}}
