"""Per-request plumbing: the request's unit of work and clock, the app's gateways and policy
book, rate limits."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from flask import Flask, current_app, g, request

from backend.fees import PolicyBook
from backend.infra.clock import Clock
from backend.infra.rate_limits import RateLimits
from backend.infra.statements import Reader
from backend.infra.uow import UnitOfWork
from backend.payments import gateway_from_config
from backend.payments.gateway import PaymentGateway


def init_app(app: Flask) -> None:
    cfg = app.config["APP_CONFIG"]
    # Counted in Redis when there is one, so every worker process counts together; a broken
    # Redis falls back to counting in process memory (backend.infra.rate_limits).
    app.extensions["rate_limits"] = RateLimits(cfg.REDIS_URL or "memory://")


def client_address() -> str:
    """The caller's address (behind PROXY_FIX_X_FOR proxies, the one they name)."""
    return request.remote_addr or "unknown"


def rate_limit_address() -> str:
    """The caller's address as rate limits count it: an IPv6 host has a /64 of its own (a phone
    or a home router picks any address in it at will), so a /64 counts as one caller."""
    return address_group(client_address())


def address_group(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def rate_limited(limits: Callable[[], list[tuple[str, str]]]):
    """View decorator: count limits() as (limit, key) pairs before the view runs. A breach
    raises rate_limits.TooManyRequests, which the API answers 429 with Retry-After."""

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


def payment_gateway(api: str | None = None) -> PaymentGateway:
    """The app's payment gateway, built on first use: the WeChat Pay adapter of WECHAT_PAY_API,
    or of `api` ("v2" or "v3") where a callback names the API it speaks."""
    config = current_app.config["APP_CONFIG"]
    if api is None or api == config.WECHAT_PAY_API:
        gateway = current_app.extensions.get("payment_gateway")
        if gateway is None:
            gateway = gateway_from_config(config)
            current_app.extensions["payment_gateway"] = gateway
        return gateway
    others = current_app.extensions.setdefault("other_payment_gateways", {})
    if api not in others:
        others[api] = gateway_from_config(config, api)
    return others[api]


def clock() -> Clock:
    """The app's business clock (backend.infra.clock): the only source of the time."""
    return current_app.extensions["clock"]


def unit_of_work() -> UnitOfWork:
    """The request's (or command's) unit of work: `with unit_of_work() as session:`."""
    if "uow" not in g:
        g.uow = new_unit_of_work(current_app)
    return g.uow


def new_unit_of_work(app: Flask) -> UnitOfWork:
    """A unit of work of its own on the app's database and clock (a job, a thread, a test)."""
    return UnitOfWork(
        app.extensions["db_sessions"], app.extensions["clock"], app.extensions["db_reader"]
    )


def reader() -> Reader:
    """Compiled autocommit reads for hot read-only paths that need none of the ORM session."""
    return current_app.extensions["db_reader"]
