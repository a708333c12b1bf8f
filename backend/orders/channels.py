"""How a registration is paid: the resident API's trade types (design.md section 6) and the
collection channel each is (the channel the bureau is told, and the payment port's word), and the
channels of the collectors, the schools and the government (design.md section 8; payer finance
for the government's).

An order says its own channel: `payment_order.channel` is set for the orders a channel other
than the resident's makes (a school's batch), and NULL for a resident's order, whose channel
follows from its trade type. `order_channel` is the one rule every file and message reads an
order's channel by (progress.journal.channel_of is the same rule in SQL, for the statements that
credit and count payments). Pure: no database.
"""

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

# The channels an order may name in payment_order.channel (the others follow from trade_type).
ORDER_CHANNELS = (SCHOOL,)


def order_channel(channel: str | None, trade_type: str) -> str:
    """The channel of an order (its `channel` and `trade_type`): its own, or its trade type's
    (a resident's order)."""
    return channel or CHANNELS[trade_type]
