"""What each message says: the template fields of our three kinds, within WeChat's limits.

Pure. A field's key names its type (thing1, amount2, character_string3, date4), and WeChat
refuses a value over its type's limit (47003): a thing at most 20 characters, a
character_string at most 32 letters, digits and symbols, an amount a number with 元 or ¥.
Names are masked (backend.values.masking): a message shows at most a surname.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from backend.values.beijing import BEIJING
from backend.values.labels import registration_label
from backend.values.masking import mask_name
from backend.values.money import yuan_text

LIMITS = {"thing": 20, "character_string": 32, "amount": 32, "date": 32, "number": 32}
# Where a tap on the message leads in the mini-program.
ORDER_PAGE = "pages/order/order?order_no={order_no}"
LOOKUP_PAGE = "pages/index/index"


def field_type(key: str) -> str:
    """'thing1' -> 'thing', 'character_string3' -> 'character_string'."""
    return key.rstrip("0123456789")


def clip(key: str, value: str) -> str:
    """The value cut to its type's limit (a thing ends in an ellipsis when cut)."""
    limit = LIMITS[field_type(key)]
    if len(value) <= limit:
        return value
    return value[: limit - 1] + "…" if field_type(key) == "thing" else value[:limit]


def _data(**fields: str) -> dict[str, Any]:
    return {key: {"value": clip(key, value)} for key, value in fields.items()}


def people(names: Sequence[str]) -> str:
    """'张*' for one person, '张* 等3人' for a household."""
    first = mask_name(names[0]) if names else ""
    return first if len(names) <= 1 else f"{first} 等{len(names)}人"


def _when(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def tax_receipt(
    *,
    names: Sequence[str],
    paid_fen: int,
    receipt_no: str,
    entered_at: datetime,
    schemes: Sequence[tuple[str, int]],
) -> dict[str, Any]:
    """Every registration of an order entered the treasury: the payment is done at the bureau."""
    scheme, year = schemes[0]
    what = registration_label(scheme, year)
    if len(schemes) > 1:
        what += f"等{len(schemes)}项已入库"
    return _data(
        thing1=people(names),
        amount2=f"{yuan_text(paid_fen)}元",
        character_string3=receipt_no,
        date4=_when(entered_at),
        thing5=what,
    )


def refund(
    *, name: str, amount_fen: int, refund_no: str, refunded_at: datetime, scheme: str, year: int
) -> dict[str, Any]:
    """Money of one registration went back to the payer's WeChat balance or card."""
    return _data(
        thing1=people([name]),
        amount2=f"{yuan_text(amount_fen)}元",
        character_string3=refund_no,
        date4=_when(refunded_at),
        thing5=f"{registration_label(scheme, year)}退款已到账",
    )


def deadline(
    *, names: Sequence[str], deadline: date, unpaid: int, days_left: int
) -> dict[str, Any]:
    """Registrations of the payer's household are unpaid and their deadline is near."""
    return _data(
        thing1=people(names),
        date2=deadline.isoformat(),
        thing3=f"尚有{unpaid}项参保未缴费",
        thing4="今天截止，请尽快缴费" if days_left <= 0 else f"还剩{days_left}天，请尽快缴费",
    )
