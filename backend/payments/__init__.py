"""Payments: the gateway port the order services talk to. Adapters (WeChat Pay v2 through wechatpy)
live beside it; nothing WeChat-specific leaks above this package."""
