"""The words people read for schemes: one table, used by answers, files, posters and messages."""

from __future__ import annotations

# The schemes' full names (as on posters and in the policy files) and their short names.
SCHEME_NAMES = {"pension": "城乡居民基本养老保险", "medical": "城乡居民基本医疗保险"}
SCHEME_SHORT = {"pension": "养老保险", "medical": "医疗保险"}
# Who handles a registration of each scheme at the county (late payment, corrections).
SCHEME_AGENCY = {"pension": "社保经办机构", "medical": "医保经办机构"}

# How a registration was paid (Registration.paid_channel, the progress journal's channel), as
# files and screens name it.
CHANNEL_NAMES = {
    "wechat_miniprogram": "微信小程序",
    "wechat_qr": "微信扫码",
    "collector": "代征单位",
    "school": "学校代缴",
    "government": "财政代缴",
}

# The four groups progress and bulletins count by (orders.channels.CHANNEL_GROUPS).
CHANNEL_GROUP_NAMES = {
    "wechat": "微信自助",
    "collector": "代征单位",
    "school": "学校代缴",
    "government": "政府代缴",
}


def registration_label(scheme: str, period_year: int) -> str:
    """'2019年度养老保险'."""
    return f"{period_year}年度{SCHEME_SHORT[scheme]}"
