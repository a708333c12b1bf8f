"""Payments: the gateway port the order services talk to. Adapters (WeChat Pay v2 through wechatpy)
live beside it; nothing WeChat-specific leaks above this package."""

from __future__ import annotations

from backend.config import Config
from backend.payments.gateway import PaymentGateway

NOTIFY_PATH = "/api/payments/wechat/notify"
REFUND_NOTIFY_PATH = "/api/payments/wechat/refund-notify"


def gateway_from_config(cfg: Config) -> PaymentGateway:
    """The WeChat Pay adapter for WECHAT_MODE: fake, sandbox and live differ only in URL and keys."""
    from backend.payments.wechat.gateway import WeChatPayGateway

    pay_base, _ = cfg.wechat_base_urls()
    public = cfg.PUBLIC_BASE_URL.rstrip("/")
    return WeChatPayGateway(
        appid=cfg.WECHAT_APPID,
        mch_id=cfg.WECHAT_MCH_ID,
        api_key=cfg.WECHAT_API_KEY,
        base_url=pay_base,
        notify_url=public + NOTIFY_PATH,
        refund_notify_url=public + REFUND_NOTIFY_PATH,
        mch_cert=cfg.WECHAT_MCH_CERT,
        mch_key=cfg.WECHAT_MCH_KEY,
        sandbox=cfg.WECHAT_MODE == "sandbox",
    )
