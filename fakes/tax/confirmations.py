"""Treasury-entry confirmations: the bureau's signed callbacks to our backend.

Each delivery runs on its own daemon thread: it waits the confirmation delay, then POSTs the
confirmation, signed afresh for every attempt, until an answer is 2xx or the retry schedule runs
out. Waits are multiplied by `time_scale`. The thread never holds the ledger's lock while it
waits on the network; every attempt is recorded in the ledger.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import requests

from fakes.tax import signing
from fakes.tax.ledger import Ledger

# Seconds between attempts after the first, before scaling.
RETRY_SCHEDULE_S = (10, 30, 120, 600, 1800)
WRONG_SECRET = "not-the-shared-secret"


class Confirmer:
    def __init__(
        self,
        ledger: Ledger,
        secret: str,
        callback_url: str,
        time_scale: float = 1.0,
        timeout_s: float = 5.0,
        schedule: tuple[float, ...] = RETRY_SCHEDULE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.secret = secret
        self.callback_url = callback_url
        self.time_scale = time_scale
        self.timeout_s = timeout_s
        self.schedule = schedule
        self.clock = clock
        self._lock = threading.Lock()
        self._cancel = threading.Event()  # replaced by cancel_pending(); deliveries keep theirs
        self._threads: set[threading.Thread] = set()

    def send(self, message_id: str, delay_s: float = 0.0) -> None:
        """Start confirming `message_id` after `delay_s` unscaled seconds (twice when the
        duplicate_confirmation fault is on)."""
        copies = 2 if self.ledger.fault("duplicate_confirmation") else 1
        with self._lock:
            cancel = self._cancel
            for _ in range(copies):
                thread = threading.Thread(
                    target=self._deliver,
                    args=(message_id, delay_s * self.time_scale, cancel),
                    name="fake-tax-confirm",
                    daemon=True,
                )
                self._threads.add(thread)
                thread.start()

    def _deliver(self, message_id: str, delay_s: float, cancel: threading.Event) -> None:
        try:
            if delay_s > 0 and cancel.wait(delay_s):
                return
            body = self.ledger.confirmation_body(message_id)
            if body is None:
                return
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
            for pause in (0, *self.schedule):
                if pause and cancel.wait(pause * self.time_scale):
                    return
                status, error = self._attempt(raw)
                if cancel.is_set():
                    return
                self.ledger.record_attempt(message_id, status, error)
                if status is not None and 200 <= status < 300:
                    return
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _attempt(self, raw: bytes) -> tuple[int | None, str | None]:
        secret = WRONG_SECRET if self.ledger.fault("wrong_signature") else self.secret
        headers = signing.signed_headers(secret, self.callback_url, raw, now=self.clock())
        try:
            answer = requests.post(
                self.callback_url, data=raw, headers=headers, timeout=self.timeout_s
            )
        except requests.RequestException as exc:
            return None, type(exc).__name__
        return answer.status_code, None

    def cancel_pending(self) -> None:
        """Drop every delivery under way (waiting or retrying); later sends are unaffected."""
        with self._lock:
            self._cancel.set()
            self._cancel = threading.Event()

    def close(self, timeout_s: float = 5.0) -> None:
        """Cancel all deliveries and wait for their threads (an attempt in flight finishes)."""
        self.cancel_pending()
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
