"""The fake platform's memory: one thread-safe object shared by every endpoint of the server."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakes.wechat.pay_state import PayLedger

CODE_LIFETIME_S = 300  # a wx.login code is valid for about five minutes
# A long-running fake (demos, load tests) forgets expired codes once this many are held.
_PRUNE_AT = 10_000


@dataclass
class LoginCode:
    openid: str
    issued_at: float
    used: bool = False


@dataclass
class PlatformState:
    appid: str
    secret: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: dict[str, LoginCode] = field(default_factory=dict)
    # Fault switches a test or an operator flips through /_control/faults.
    faults: dict[str, bool] = field(default_factory=dict)
    # Seconds on a monotonic scale; tests pass their own to make codes expire without waiting.
    clock: Callable[[], float] = time.monotonic
    # WeChat Pay's orders, payments and refunds (it has its own lock).
    pay: PayLedger | None = None

    @staticmethod
    def openid_for(user: str) -> str:
        """The same user always gets the same openid (28 characters, like WeChat's)."""
        return "o" + hashlib.sha256(f"fake-wechat:{user}".encode()).hexdigest()[:27]

    def issue_code(self, user: str) -> str:
        code = secrets.token_hex(16)
        with self.lock:
            now = self.clock()
            if len(self.codes) >= _PRUNE_AT:
                self.codes = {
                    c: e for c, e in self.codes.items() if now - e.issued_at <= CODE_LIFETIME_S
                }
            self.codes[code] = LoginCode(openid=self.openid_for(user), issued_at=now)
        return code

    def redeem(self, code: str) -> tuple[str | None, int]:
        """Return (openid, 0) or (None, errcode) following WeChat's rules for codes."""
        with self.lock:
            entry = self.codes.get(code)
            if entry is None or self.clock() - entry.issued_at > CODE_LIFETIME_S:
                return None, 40029
            if entry.used:
                return None, 40163
            entry.used = True
            return entry.openid, 0

    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.faults.clear()
        if self.pay is not None:
            self.pay.reset()

    def close(self) -> None:
        """Stop background work (notification deliveries, refund timers)."""
        if self.pay is not None:
            self.pay.close()
