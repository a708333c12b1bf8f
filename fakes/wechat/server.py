"""The fake WeChat platform: a real HTTP server the production adapters talk to unmodified.

It expects the mini-program AppID and AppSecret the backend is configured with (WECHAT_APPID /
WECHAT_SECRET, same defaults as backend/config.py).
"""

from __future__ import annotations

from flask import Flask

from backend.config import Config
from fakes.wechat import control, login
from fakes.wechat.state import PlatformState


def create_app(appid: str | None = None, secret: str | None = None) -> Flask:
    defaults = Config()
    app = Flask(__name__)
    app.extensions["fake_wechat"] = PlatformState(
        appid=appid or defaults.WECHAT_APPID, secret=secret or defaults.WECHAT_SECRET
    )
    app.register_blueprint(login.blp)
    app.register_blueprint(control.blp)
    return app
