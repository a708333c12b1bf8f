"""The collection window: a registration can be paid from the window's first to its last day.

The work plan (新政办明电〔2019〕16号, section 六(一)) closes all payment on 31 December; the
scheme deadlines (pension by 31 October, medical by 30 November) are the campaign's targets,
shown and measured against, not cut-offs. Outside the window, late payment (补缴) is a matter
for the agency, not for the self-service channel. Pure: no database, no web framework.
"""

from __future__ import annotations

from datetime import date

from backend.fees.policy import SchemePolicy
from backend.values.beijing import chinese_date
from backend.values.labels import SCHEME_AGENCY, registration_label


def window_refusal(policy: SchemePolicy, day: date) -> str | None:
    """Why a registration under `policy` cannot be paid on `day` (Beijing), or None if it can."""
    opens, closes = policy.window
    label = registration_label(policy.scheme, policy.period_year)
    if day < opens:
        return (
            f"{label}的缴费期为{chinese_date(opens)}至{chinese_date(closes)}，尚未开始，"
            "请届时再来缴费。"
        )
    if day > closes:
        return (
            f"{label}的缴费期为{chinese_date(opens)}至{chinese_date(closes)}，已经结束；"
            f"逾期补缴请联系参保地{SCHEME_AGENCY[policy.scheme]}。"
        )
    return None
