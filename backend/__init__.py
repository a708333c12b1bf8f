"""Resident contribution collection backend: the Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from backend import config_checks
from backend.config import DEV_SECRET, Config
from backend.infra.clock import CLOCK_OPTION, clock_from_settings
from backend.infra.database import make_engine, make_session_factory
from backend.infra.statements import Reader, make_read_engine
from backend.values.masking import MaskingFilter


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` is a Config, or a dict of overrides applied on top of the environment."""
    if isinstance(config, Config):
        cfg = config
    else:
        cfg = Config()
        for key, value in (config or {}).items():
            setattr(cfg, key, value)
    # Before anything else: a sandbox or live deployment on development secrets never starts.
    config_checks.enforce(cfg)

    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese as UTF-8, not \u escapes
    # Keys in the order the answer is built (the documented order), without sorting every answer.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.update(cfg.as_flask())
    app.config["APP_CONFIG"] = cfg
    _configure_logging(app, cfg)
    if cfg.SECRET_KEY == DEV_SECRET and not cfg.TESTING:
        app.logger.warning("SECRET_KEY is the development default; set it in production")
    if cfg.PROXY_FIX_X_FOR:
        # The same proxies say whether the client came over https (HSTS, https links).
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=cfg.PROXY_FIX_X_FOR, x_proto=cfg.PROXY_FIX_X_FOR
        )

    clock = cfg.CLOCK or clock_from_settings(
        cfg.APP_CLOCK_START, cfg.APP_CLOCK_ANCHOR, live=cfg.WECHAT_MODE == "live"
    )
    app.extensions["clock"] = clock
    # Rows written without an explicit time take it from this engine's clock (column defaults).
    engine = make_engine(cfg.DATABASE_URL).execution_options(**{CLOCK_OPTION: clock})
    app.extensions["db_engine"] = engine
    app.extensions["db_sessions"] = make_session_factory(engine)
    app.extensions["db_reader"] = Reader(make_read_engine(engine))

    from backend.infra import headers, web

    web.init_app(app)
    headers.init_app(app, inline_allowed=("/api/docs",))

    from backend.api import init_api
    from backend.infra import body_limits

    init_api(app)
    body_limits.init_app(app)  # after the API's authentication gate: 401 before 413

    from backend.dashboard import init_dashboard

    init_dashboard(app)

    from backend.cli import register_commands

    register_commands(app)
    return app


def _configure_logging(app: Flask, cfg: Config) -> None:
    logging.basicConfig(
        level=cfg.LOG_LEVEL, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # wechatpy at DEBUG prints whole requests and replies (the sandbox signing key in getsignkey's
    # reply, every signature): never, whatever LOG_LEVEL says.
    wechatpy_level = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    logging.getLogger("wechatpy").setLevel(wechatpy_level)
    masking = MaskingFilter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(masking)
