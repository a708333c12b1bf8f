"""The fake WeChat platform: a real HTTP server the production adapters talk to unmodified.

It expects the mini-program AppID and AppSecret the backend is configured with (WECHAT_APPID /
WECHAT_SECRET, same defaults as backend/config.py).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from backend.config import Config
from fakes.wechat import control, login
from fakes.wechat.state import PlatformState


def create_app(
    appid: str | None = None,
    secret: str | None = None,
    clock: Callable[[], float] | None = None,
) -> Flask:
    """The fake platform; every argument optional (appid/secret default to the backend's).

    Each area (login now, WeChat Pay later) is its own blueprint module; they share the one
    PlatformState kept in `app.extensions["fake_wechat"]`.
    """
    defaults = Config()
    app = Flask(__name__)
    state = PlatformState(
        appid=appid or defaults.WECHAT_APPID, secret=secret or defaults.WECHAT_SECRET
    )
    if clock is not None:
        state.clock = clock
    app.extensions["fake_wechat"] = state
    app.register_blueprint(login.blp)
    app.register_blueprint(control.blp)
    return app
