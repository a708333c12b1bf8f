"""The payment gateway port: what orders, refunds and reconciliation need from a payment
platform, in the project's own words: our order and refund numbers, the payment channel, integer
fen, timezone-aware times, plain bill rows.

An adapter implements it for one platform API (backend/payments/wechat/, WeChat Pay v2;
backend/payments/wechat_v3/, WeChat Pay v3); tests and
`make run` use that same adapter against a fake platform that speaks the real protocol. Nothing
platform-specific (trade types, XML fields, platform state codes) appears above this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Protocol

from backend.payments.bill import Bill

# How a resident pays through the platform: in the mini-program, or by scanning a QR code.
Channel = Literal["wechat_miniprogram", "wechat_qr"]
TradeState = Literal["unpaid", "paying", "paid", "refunded", "closed", "failed"]
# The payer's money was taken (refunded: taken, then some or all of it given back).
PAID_STATES = frozenset({"paid", "refunded"})
RefundState = Literal["processing", "succeeded", "failed"]


class GatewayError(Exception):
    """The platform refused or failed. `code` is the platform's error code when it gave one;
    `retryable` says the same request may succeed later (network, platform busy)."""

    def __init__(self, message: str, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class InvalidNotification(GatewayError):
    """A callback whose signature, sender or content cannot be trusted."""


class AlreadyPaid(GatewayError):
    """The trade cannot be closed: it was paid meanwhile (the payment wins)."""


@dataclass(frozen=True)
class PaymentRequest:
    order_no: str
    total_fen: int
    description: str
    channel: Channel
    client_ip: str
    created_at: datetime
    expires_at: datetime
    payer: str | None = None  # the payer's openid, for a mini-program payment


@dataclass(frozen=True)
class PaymentStarted:
    platform_ref: str | None  # the platform's handle of the trade (WeChat's prepay_id)
    code_url: str | None  # QR: the address a QR code carries
    client_params: dict[str, str] | None  # mini-program: the signed parameters the phone pays with


@dataclass(frozen=True)
class TradeStatus:
    order_no: str
    state: TradeState
    total_fen: int | None
    transaction_id: str | None
    paid_at: datetime | None

    @property
    def paid(self) -> bool:
        return self.state in PAID_STATES


@dataclass(frozen=True)
class PaymentNotice:
    """A verified payment-result notification."""

    order_no: str
    transaction_id: str
    total_fen: int
    paid_at: datetime
    payer: str | None
    success: bool


@dataclass(frozen=True)
class RefundRequest:
    order_no: str
    refund_no: str
    total_fen: int  # what the order was paid
    refund_fen: int
    reason: str


@dataclass(frozen=True)
class RefundResult:
    refund_no: str
    platform_refund_id: str | None
    state: RefundState
    refund_fen: int
    succeeded_at: datetime | None
    order_no: str | None = None  # the payment it gives back, when the platform says


class PaymentGateway(Protocol):
    def create(self, request: PaymentRequest) -> PaymentStarted: ...

    def query(self, order_no: str) -> TradeStatus: ...

    def close(self, order_no: str) -> None:
        """Nobody can pay the trade afterwards. AlreadyPaid when it was paid meanwhile."""
        ...

    def refund(self, request: RefundRequest) -> RefundResult: ...

    def query_refund(self, refund_no: str) -> RefundResult: ...

    def download_bill(self, day: date) -> str | None:
        """The platform's raw bill of a day (kept as a file), or None when it has none."""
        ...

    def read_bill(self, path: Path) -> Bill:
        """A stored bill file as plain rows (backend.payments.bill)."""
        ...

    def parse_payment_notice(
        self, body: bytes, headers: Mapping[str, str] | None = None
    ) -> PaymentNotice:
        """A verified payment callback (its headers carry the signature on some platforms)."""
        ...

    def parse_refund_notice(
        self, body: bytes, headers: Mapping[str, str] | None = None
    ) -> RefundResult: ...

    def acknowledgement(self, ok: bool, message: str = "OK") -> tuple[bytes, str]:
        """The body and content type the platform expects in answer to a callback."""
        ...
