"""Waiting for, and reading, what running servers and workers did."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session


def wait_until(condition, timeout=10.0, every=0.05):
    """Poll `condition` until it returns something truthy (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def fresh(session, query):
    """Read what the app committed, in a short session of its own: the test's session keeps its
    objects loaded and holds no transaction (on SQLite, no lock) while the app works."""
    with Session(bind=session.get_bind()) as reader:
        return query(reader)


def run_worker(app) -> str:
    """One round of `flask worker`; its output."""
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output
