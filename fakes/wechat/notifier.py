"""Delivery of notifications to a merchant's notify_url, retried like WeChat Pay retries them.

Each delivery runs on its own daemon thread and never touches the platform's lock while it waits
on the network; it reports every attempt through a callback. A delivery is acknowledged only by
HTTP 200 with an XML body whose return_code is SUCCESS; anything else (FAIL, another status, a
malformed body, a timeout, a refused connection) is retried on WeChat's schedule, scaled by
`time_scale` so tests can run the whole schedule in seconds. API v3 callbacks bring their own
rule (HTTP 200 or 204, body ignored) and headers signed afresh for each attempt.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import requests

from fakes.wechat import xmlwire
from fakes.wechat.trades import Attempt

# Seconds between attempts after the first: 15s 15s 30s 3m 10m 20m 30m 30m 30m 60m 3h 3h 3h 6h 6h.
RETRY_SCHEDULE_S = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)  # fmt: skip

OnAttempt = Callable[[Attempt], None]
# Fresh headers for each attempt (API v3 signs every delivery with a new timestamp and nonce).
Headers = Callable[[], dict[str, str]]
XML_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def acknowledged(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        return xmlwire.parse(body).get("return_code") == "SUCCESS"
    except xmlwire.BadXml:
        return False


class Notifier:
    def __init__(
        self,
        time_scale: float = 1.0,
        timeout_s: float = 5.0,
        schedule: tuple[float, ...] = RETRY_SCHEDULE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.time_scale = time_scale
        self.timeout_s = timeout_s
        self.schedule = schedule
        self.clock = clock
        self._lock = threading.Lock()
        self._cancel = threading.Event()  # replaced by cancel_pending(); deliveries keep theirs
        self._threads: set[threading.Thread] = set()

    def send(
        self,
        url: str,
        body: bytes,
        on_attempt: OnAttempt,
        copies: int = 1,
        delay_s: float = 0.0,
        *,
        headers: Headers | None = None,
        ack: Callable[[int, bytes], bool] = acknowledged,
    ) -> None:
        """Start delivering `body` to `url`, `copies` times at once, after `delay_s` real seconds.
        `headers` makes each attempt's headers (default: v2 XML); `ack` judges the answer."""
        wire = (headers or (lambda: XML_HEADERS), ack)
        barrier = threading.Barrier(copies) if copies > 1 else None
        with self._lock:
            cancel = self._cancel
            for _ in range(copies):
                thread = threading.Thread(
                    target=self._deliver,
                    args=(url, body, on_attempt, delay_s, cancel, barrier, wire),
                    name="fake-wechat-notify",
                    daemon=True,
                )
                self._threads.add(thread)
                thread.start()

    def _deliver(self, url, body, on_attempt, delay_s, cancel, barrier, wire) -> None:
        try:
            if delay_s > 0 and cancel.wait(delay_s):
                return
            if barrier is not None:
                # Duplicates leave together, so the receiver sees them concurrently.
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=5)
            for pause in (0, *self.schedule):
                if pause and cancel.wait(pause * self.time_scale):
                    return
                attempt = self._attempt(url, body, *wire)
                if cancel.is_set():
                    return
                on_attempt(attempt)
                if attempt.acknowledged:
                    return
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _attempt(self, url: str, body: bytes, headers: Headers, ack) -> Attempt:
        at = self.clock()
        try:
            answer = requests.post(url, data=body, headers=headers(), timeout=self.timeout_s)
        except requests.RequestException as exc:
            return Attempt(at=at, status=None, acknowledged=False, error=type(exc).__name__)
        return Attempt(
            at=at,
            status=answer.status_code,
            acknowledged=ack(answer.status_code, answer.content),
        )

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
