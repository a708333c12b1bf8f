"""Payment orders: one WeChat Pay trade paying one or more registrations (a household at once)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp
from backend.orders.channels import ORDER_CHANNELS
from backend.states.orders import OrderStatus

ORDER_STATUSES = tuple(status.value for status in OrderStatus)
_ORDER_CHANNELS = "(" + ", ".join(f"'{name}'" for name in ORDER_CHANNELS) + ")"


class PaymentOrder(Base):
    __tablename__ = "payment_order"
    __table_args__ = (
        # A replayed request (same payer, same Idempotency-Key) finds the order it created.
        UniqueConstraint("openid", "idempotency_key"),
        CheckConstraint(f"status IN {ORDER_STATUSES}", name="status"),
        # The poller's question, "which open orders are due a look?", reads this index only.
        Index(
            "ix_payment_order_due",
            "next_check_at",
            sqlite_where=text("status = 'created'"),
            postgresql_where=text("status = 'created'"),
        ),
        CheckConstraint("trade_type IN ('JSAPI', 'NATIVE')", name="trade_type"),
        CheckConstraint(f"channel IS NULL OR channel IN {_ORDER_CHANNELS}", name="channel"),
        CheckConstraint("total_fen > 0", name="total_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Our number, sent to WeChat as out_trade_no (≤ 32 characters).
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    # Hash of the request body, to tell a replay from a different request under the same key.
    request_hash: Mapped[str] = mapped_column(String(64))
    trade_type: Mapped[str] = mapped_column(String(8))
    # The collection channel when another than the trade type's (a school's batch: school);
    # NULL for a resident's order. Read it through backend.orders.channels.order_channel.
    channel: Mapped[str | None] = mapped_column(String(24), default=None)
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.CREATED.value, index=True)
    total_fen: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(128))
    client_ip: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prepay_id: Mapped[str | None] = mapped_column(String(64), default=None)
    code_url: Mapped[str | None] = mapped_column(String(128), default=None)
    # JSAPI: the signed wx.requestPayment parameters, kept so a replay answers the same.
    pay_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    transaction_id: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    paid_fen: Mapped[int | None] = mapped_column(Integer, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Why it closed (expired, gateway_error, ...) or why money is due back (duplicate_payment).
    status_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    # Set when WeChat's bill of another day than paid_at's carries this payment (a payment near
    # midnight), so reconciliation of paid_at's day does not call it missing from the bill.
    billed_on: Mapped[date | None] = mapped_column(Date, default=None)
    # When the worker may next look at this open order: ask WeChat whether it was paid (a
    # notification may be lost) or close it once expired. Claiming it pushes this forward by a
    # lease, so two workers never ask about one order at once.
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp)
    # The county (12-digit code) of the order's registrations, the first one's when a household
    # spans two: where its audit entries and discrepancies are filed.
    county_code: Mapped[str | None] = mapped_column(String(12), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, onupdate=stamp)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.id", lazy="selectin"
    )


class OrderItem(Base):
    """One registration paid by an order, at the amount the server computed when it was created."""

    __tablename__ = "order_item"
    __table_args__ = (
        UniqueConstraint("order_id", "registration_id"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("payment_order.id"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    # Equal to registration_id while the order is open or paid, NULL once it closed: the unique
    # constraint is what stops two orders from holding or paying one registration, even when
    # two requests race past every check in Python.
    held_registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registration.id"), unique=True, default=None
    )
    scheme: Mapped[str] = mapped_column(String(8))
    period_year: Mapped[int] = mapped_column(Integer)
    grade_yuan: Mapped[int | None] = mapped_column(Integer, default=None)
    amount_fen: Mapped[int] = mapped_column(Integer)
    gov_paid_fen: Mapped[int] = mapped_column(Integer, default=0)
    contribution_subsidy_fen: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[PaymentOrder] = relationship(back_populates="items")
