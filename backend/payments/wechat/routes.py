"""Where WeChat Pay calls us: built into notify_url at order and refund time, served by
backend/api/payments.py."""

from __future__ import annotations

PREFIX = "/api/payments/wechat"
NOTIFY_PATH = PREFIX + "/notify"
REFUND_NOTIFY_PATH = PREFIX + "/refund-notify"
