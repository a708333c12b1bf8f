"""Payments: the gateway port (gateway.py) the order, refund and reconciliation services talk
to, the plain bill rows reconciliation reads (bill.py), and one package per platform (wechat/);
nothing platform-specific leaks above this package."""

from __future__ import annotations

from backend.config import Config
from backend.payments.gateway import PaymentGateway


def gateway_from_config(cfg: Config) -> PaymentGateway:
    """The WeChat Pay adapter for WECHAT_MODE: fake, sandbox and live differ only in URL and keys."""
    from backend.payments.wechat.gateway import WeChatPayGateway
    from backend.payments.wechat.routes import NOTIFY_PATH, REFUND_NOTIFY_PATH

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
