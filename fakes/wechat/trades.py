"""What the fake remembers of each WeChat Pay order: trades, their refunds, notification attempts.

Plain records plus the rules that depend only on a record and the time (expiry, refund totals);
the ledger in pay_state.py owns locking and the order of events.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass, field
from typing import Any

from fakes.wechat import beijing

LIVE = "live"
SANDBOX = "sandbox"

NOTPAY, SUCCESS, REFUND, CLOSED = "NOTPAY", "SUCCESS", "REFUND", "CLOSED"
PROCESSING = "PROCESSING"
V3_SIGN_TYPE = "RSA"  # an order placed through API v3: its paySign is RSA, its callbacks JSON

PREPAY_LIFETIME_S = 2 * 3600  # a prepay_id (and code_url) is good for two hours
DEFAULT_WINDOW_S = 2 * 3600  # an order sent without time_expire closes after two hours


@dataclass
class Attempt:
    """One HTTP delivery of a notification."""

    at: float  # epoch seconds
    status: int | None  # HTTP status, None when no answer (refused, timeout)
    acknowledged: bool
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "at": beijing.at(self.at).isoformat(timespec="milliseconds"),
            "epoch": self.at,
        }


@dataclass
class Refund:
    out_refund_no: str
    refund_id: str
    refund_fee: int
    requested_at: float
    status: str = PROCESSING  # PROCESSING, then SUCCESS
    succeeded_at: float | None = None
    refund_account: str = "REFUND_SOURCE_UNSETTLED_FUNDS"
    refund_desc: str = ""
    notify_url: str = ""
    notify_attempts: list[Attempt] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Refund:
        attempts = [Attempt(**a) for a in data.get("notify_attempts", [])]
        return cls(**{**data, "notify_attempts": attempts})


@dataclass
class Trade:
    realm: str  # LIVE or SANDBOX: the two never see each other's orders
    mch_id: str
    appid: str
    out_trade_no: str
    trade_type: str
    body: str
    total_fee: int
    notify_url: str
    spbill_create_ip: str
    sign_type: str  # of the unifiedorder call; notifications and paySign must use it too
    created_at: float
    expires_at: float
    prepay_id: str
    prepay_at: float
    attach: str = ""
    device_info: str = ""
    openid: str = ""  # JSAPI: given at order time; NATIVE: the payer, known once paid
    product_id: str = ""
    code_url: str = ""
    state: str = NOTPAY  # stored NOTPAY, SUCCESS or CLOSED; expiry and REFUND are derived
    transaction_id: str = ""
    paid_at: float | None = None
    bank_type: str = "OTHERS"
    is_subscribe: str = "N"
    refunds: list[Refund] = field(default_factory=list)
    notify_attempts: list[Attempt] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.realm, self.mch_id, self.out_trade_no)

    @property
    def v3(self) -> bool:
        return self.sign_type == V3_SIGN_TYPE

    def terms(self) -> tuple[object, ...]:
        """What must match for a repeated unifiedorder to count as the same order."""
        return (self.total_fee, self.body, self.trade_type, self.openid, self.product_id)

    def state_at(self, now: float) -> str:
        if self.state == NOTPAY and now >= self.expires_at:
            return CLOSED
        if self.state == SUCCESS and self.refunds:
            return REFUND
        return self.state

    def refunded(self) -> int:
        return sum(r.refund_fee for r in self.refunds)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trade:
        refunds = [Refund.from_dict(r) for r in data.get("refunds", [])]
        attempts = [Attempt(**a) for a in data.get("notify_attempts", [])]
        return cls(**{**data, "refunds": refunds, "notify_attempts": attempts})


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def new_prepay_id(now: float) -> str:
    """`wx` + Beijing time + 20 random characters (36 in all), the shape WeChat uses."""
    return "wx" + beijing.compact(now) + secrets.token_hex(10)


def new_transaction_id(now: float) -> str:
    """28 digits: 42000 + 5 digits + the Beijing date + 10 digits."""
    return "42000" + _digits(5) + beijing.day_of(now) + _digits(10)


def new_refund_id(now: float) -> str:
    """29 digits: 50300 + 6 digits + the Beijing date + 10 digits."""
    return "50300" + _digits(6) + beijing.day_of(now) + _digits(10)


def new_code_url() -> str:
    token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(7))
    return f"weixin://wxpay/bizpayurl?pr={token}"
