"""Where WeChat Pay calls us: built into notify_url at order and refund time, served by
backend/api/payments.py. v2 and v3 callbacks have their own addresses, both always served: an
order placed before WECHAT_PAY_API changed is still notified the way it was placed."""

from __future__ import annotations

PREFIX = "/api/payments/wechat"
NOTIFY_PATH = PREFIX + "/notify"
REFUND_NOTIFY_PATH = PREFIX + "/refund-notify"
V3_NOTIFY_PATH = PREFIX + "/v3/notify"
V3_REFUND_NOTIFY_PATH = PREFIX + "/v3/refund-notify"
