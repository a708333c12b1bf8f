"""Payments: the gateway port (gateway.py) the order, refund and reconciliation services talk
to, the plain bill rows reconciliation reads (bill.py), and one package per platform API
(wechat/ for WeChat Pay v2, wechat_v3/ for v3); nothing platform-specific leaks above this package."""

from __future__ import annotations

from backend.config import Config
from backend.payments.gateway import PaymentGateway

PAY_APIS = ("v2", "v3")  # what WECHAT_PAY_API may name


def gateway_from_config(cfg: Config, api: str | None = None) -> PaymentGateway:
    """The WeChat Pay adapter of `api` (default WECHAT_PAY_API) for WECHAT_MODE: fake, sandbox
    and live differ only in URL and keys. ValueError for an API that is not v2 or v3; a
    KeyProblem (a ValueError) when v3's key set is incomplete."""
    from backend.payments.wechat.routes import (
        NOTIFY_PATH,
        REFUND_NOTIFY_PATH,
        V3_NOTIFY_PATH,
        V3_REFUND_NOTIFY_PATH,
    )

    api = api or cfg.WECHAT_PAY_API
    pay_base, _ = cfg.wechat_base_urls()
    public = cfg.PUBLIC_BASE_URL.rstrip("/")
    if api == "v3":
        from backend.payments.wechat_v3 import keys
        from backend.payments.wechat_v3.gateway import WeChatPayV3Gateway

        return WeChatPayV3Gateway(
            appid=cfg.WECHAT_APPID,
            mch_id=cfg.WECHAT_MCH_ID,
            keys=keys.load(cfg.WECHAT_V3_KEY_DIR),
            base_url=pay_base,
            notify_url=public + V3_NOTIFY_PATH,
            refund_notify_url=public + V3_REFUND_NOTIFY_PATH,
        )
    if api not in PAY_APIS:
        raise ValueError(f"WECHAT_PAY_API must be v2 or v3, not {api!r}")
    from backend.payments.wechat.gateway import WeChatPayGateway

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
