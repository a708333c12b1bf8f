"""Running a test through both WeChat Pay APIs: the app pays through v2, then through v3, against
the one fake platform that speaks both (the `pay_api` fixture in tests/conftest.py); and a trade
started through either adapter directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.payments.gateway import PaymentGateway, PaymentRequest, PaymentStarted

# As a module's `pytestmark` or a test's decorator.
BOTH_PAY_APIS = pytest.mark.parametrize("pay_api", ["v2", "v3"], indirect=True)


def new_trade(
    pay: PaymentGateway, total_fen: int = 25000, channel: str = "wechat_miniprogram"
) -> tuple[str, PaymentStarted]:
    """A new trade started through an adapter of either API: (its order number, the start)."""
    number = "T" + uuid.uuid4().hex[:20]
    now = datetime.now(UTC)
    started = pay.create(
        PaymentRequest(
            order_no=number,
            total_fen=total_fen,
            description="城乡居民医疗保险缴费",
            channel=channel,  # type: ignore[arg-type]
            client_ip="127.0.0.1",
            created_at=now,
            expires_at=now + timedelta(minutes=30),
            payer="oPAYER" if channel == "wechat_miniprogram" else None,
        )
    )
    return number, started
