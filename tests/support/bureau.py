"""The fake tax bureau beside a test's app: confirming treasury entries back to it, fast."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fakes.tax.server import create_app as create_fake_bureau
from tests.support.servers import ServerThread


@contextmanager
def bureau_for(app, app_url: str, clock) -> Iterator[ServerThread]:
    """The fake bureau as a real HTTP server on the tests' clock (its waits a hundred times
    shorter), confirming to the app at `app_url`, which sends its ledger messages to it."""
    fake = create_fake_bureau(
        callback_url=app_url + "/api/tax/v1/treasury-entries",
        time_scale=0.01,
        confirm_delay=1.0,
        clock=clock.timestamp,
    )
    with ServerThread(fake) as running:
        app.config["APP_CONFIG"].TAX_LEDGER_URL = running.url
        yield running
    fake.extensions["fake_tax"].close()
