"""The payment gateway port: what the order, refund and reconciliation services need from a
payment platform, in our own terms (integer fen, our order numbers, timezone-aware times).

An adapter implements it for one platform; tests and `make run` use the same adapter against a
fake platform that speaks the real protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

TradeType = Literal["JSAPI", "NATIVE"]
TradeState = Literal["NOTPAY", "SUCCESS", "REFUND", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR"]
# The payer's money was taken (REFUND: taken, then some or all of it given back).
PAID_STATES = frozenset({"SUCCESS", "REFUND"})


class GatewayError(Exception):
    """The platform refused or failed; `code` is the platform's error code when it gave one."""

    def __init__(self, message: str, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class InvalidNotification(GatewayError):
    """A callback whose signature, sender or content cannot be trusted."""


@dataclass(frozen=True)
class PaymentRequest:
    out_trade_no: str
    total_fen: int
    description: str
    trade_type: TradeType
    client_ip: str
    expires_at: datetime
    openid: str | None = None  # JSAPI
    product_id: str | None = None  # NATIVE
    attach: str | None = None


@dataclass(frozen=True)
class PaymentStarted:
    prepay_id: str | None
    code_url: str | None  # NATIVE: the weixin:// address a QR code carries
    client_params: dict[str, str] | None  # JSAPI: signed wx.requestPayment parameters


@dataclass(frozen=True)
class TradeStatus:
    out_trade_no: str
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

    out_trade_no: str
    transaction_id: str
    total_fen: int
    paid_at: datetime
    openid: str | None
    success: bool


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    total_fen: int
    refund_fen: int
    reason: str


@dataclass(frozen=True)
class RefundStatus:
    out_refund_no: str
    refund_id: str | None
    state: Literal["PROCESSING", "SUCCESS", "REFUNDCLOSE", "CHANGE"]
    refund_fen: int
    succeeded_at: datetime | None
    out_trade_no: str | None = None  # the payment it gives back, when the platform says


class PaymentGateway(Protocol):
    def create(self, request: PaymentRequest) -> PaymentStarted: ...

    def query(self, out_trade_no: str) -> TradeStatus: ...

    def close(self, out_trade_no: str) -> None: ...

    def refund(self, request: RefundRequest) -> RefundStatus: ...

    def query_refund(self, out_refund_no: str) -> RefundStatus: ...

    def download_bill(self, day: date) -> str | None:
        """The raw ALL bill of a day, or None when the platform has no bill for it."""
        ...

    def parse_payment_notice(self, body: bytes) -> PaymentNotice: ...

    def parse_refund_notice(self, body: bytes) -> RefundStatus: ...

    def acknowledgement(self, ok: bool, message: str = "OK") -> tuple[bytes, str]:
        """The body and content type the platform expects in answer to a callback."""
        ...
