"""Per-request plumbing: the request's unit of work and clock, the app's gateways and policy
book, the rate limiter."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path

from flask import Flask, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from backend.fees import PolicyBook
from backend.infra.clock import Clock
from backend.infra.rate_limits import RateLimits
from backend.infra.statements import Reader
from backend.infra.uow import UnitOfWork
from backend.payments import gateway_from_config
from backend.payments.gateway import PaymentGateway

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_app(app: Flask) -> None:
    cfg = app.config["APP_CONFIG"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", cfg.REDIS_URL or "memory://")
    # No X-RateLimit-* headers on every answer: reading the window back costs a storage round
    # trip per limit per request, and the mini-program has no use for them. A 429 still says
    # when to retry (Retry-After, see backend.api).
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # A broken Redis must not take the payment channel down: fall back to in-process limits.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
    app.extensions["rate_limits"] = RateLimits(app.config["RATELIMIT_STORAGE_URI"])


def rate_limited(limits: Callable[[], list[tuple[str, str]]]):
    """View decorator for the hot paths: count limits() as (limit, key) pairs before the body is
    read, so malformed floods are limited too. A breach raises rate_limits.TooManyRequests (429)."""

    def decorate(view):
        @wraps(view)
        def limited(*args, **kwargs):
            current_app.extensions["rate_limits"].hit(limits())
            return view(*args, **kwargs)

        return limited

    return decorate


def policy_book() -> PolicyBook:
    """Loaded once per app (POLICY_DIR or the packaged policies): validated at load, fixed after."""
    book = current_app.extensions.get("policy_book")
    if book is None:
        directory = current_app.config["POLICY_DIR"]
        book = PolicyBook.load(Path(directory) if directory else None)
        current_app.extensions["policy_book"] = book
    return book


def payment_gateway() -> PaymentGateway:
    """The app's payment gateway (the WeChat Pay adapter for WECHAT_MODE), built on first use."""
    gateway = current_app.extensions.get("payment_gateway")
    if gateway is None:
        gateway = gateway_from_config(current_app.config["APP_CONFIG"])
        current_app.extensions["payment_gateway"] = gateway
    return gateway


def clock() -> Clock:
    """The app's business clock (backend.infra.clock): the only source of the time."""
    return current_app.extensions["clock"]


def unit_of_work() -> UnitOfWork:
    """The request's (or command's) unit of work: `with unit_of_work() as session:`."""
    if "uow" not in g:
        g.uow = UnitOfWork(current_app.extensions["db_sessions"], clock())
    return g.uow


def reader() -> Reader:
    """Compiled autocommit reads for hot read-only paths that need none of the ORM session."""
    return current_app.extensions["db_reader"]
