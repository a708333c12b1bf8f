"""The signed HTTP clients of the collector channel: declarations to the tax bureau and booking
details to the data exchange platform.

Both speak the tax ledger's protocol (design.md section 8): a JSON body, `X-Timestamp` (Unix
seconds on the business clock) and `X-Signature`, the hex HMAC-SHA256 of the timestamp, method,
path and body with the side's shared secret (backend.ledger.signing, docs/protocol.md). Anything but a 200 with a JSON object is
SendFailed, which the worker retries.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import requests

from backend.collectors.sending import SendFailed
from backend.infra.clock import Clock
from backend.ledger.signing import signed_headers


class Declarations(Protocol):
    def declare(self, body: dict[str, Any]) -> dict[str, Any]:
        """The bureau's answer to a declaration (its verdict per registration)."""
        ...


class Bookings(Protocol):
    def book(self, body: dict[str, Any]) -> dict[str, Any]:
        """The exchange's acknowledgement of a batch's booking details."""
        ...


class SignedPoster:
    def __init__(self, base_url: str, secret: str, clock: Clock, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._secret = secret
        self._clock = clock
        self._timeout = timeout
        self._http = requests.Session()
        self._http.trust_env = False  # the environment's proxies, read once (as the ledger's)
        self._http.proxies = requests.utils.get_environ_proxies(self._base)

    def post(self, path: str, body: dict[str, Any], *, who: str) -> dict[str, Any]:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        url = self._base + path
        headers = signed_headers(self._secret, "POST", url, raw, now=self._clock.now().timestamp())
        try:
            answer = self._http.post(url, data=raw, headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise SendFailed(f"{who} unreachable: {exc.__class__.__name__}") from exc
        if answer.status_code != 200:
            raise SendFailed(
                f"{who} answered {answer.status_code}: {answer.text[:120]}", answer.status_code
            )
        try:
            data = answer.json()
        except ValueError as exc:
            raise SendFailed(f"{who} answered no JSON", answer.status_code) from exc
        if not isinstance(data, dict):
            raise SendFailed(f"{who} answered no JSON object", answer.status_code)
        return data


class BureauDeclarations:
    """`POST {TAX_LEDGER_URL}/declarations`, signed with TAX_LEDGER_SECRET."""

    def __init__(self, base_url: str, secret: str, clock: Clock) -> None:
        self._poster = SignedPoster(base_url, secret, clock)

    def declare(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._poster.post("/declarations", body, who="bureau")


class ExchangeBookings:
    """`POST {EXCHANGE_URL}/bookings`, signed with EXCHANGE_SECRET."""

    def __init__(self, base_url: str, secret: str, clock: Clock) -> None:
        self._poster = SignedPoster(base_url, secret, clock)

    def book(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._poster.post("/bookings", body, who="exchange")
