"""Browser tests of the mini-program mock: Debian's Chromium, headless, driven by Playwright.

Everything is real and on loopback: the backend app, the mock's server (miniprogram-mock/server.py)
pointed at it and at the fake WeChat platform, and the fake tax bureau, which confirms treasury
entries once `flask worker --once` has delivered the ledger messages.

Screenshots of every page land in SCREENSHOT_DIR (printed at the end of the run).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from fakes.tax.server import create_app as create_fake_bureau
from tests.conftest import serve
from tests.support.miniprogram import server_module
from tests.support.outputs import output_dir
from tests.support.servers import ServerThread


def watch_for_problems(page) -> list[str]:
    """What went wrong on the page, as it happens: script errors, console errors (but for a 4xx
    answer the page asked for on purpose) and server errors. A test fails when it is not empty."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and "status of 4" not in message.text
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} from {response.url}")
            if response.status >= 500
            else None
        ),
    )
    return problems


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking switches Chromium keeps dialling Google's services, which a
# closed network refuses; --no-sandbox because CI containers run as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = output_dir("screenshots")
PHONE = {"width": 390, "height": 844}  # a common phone's CSS pixels


def _why_skipped() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"Chromium not found at {CHROMIUM}: browser tests skipped "
            "(make test installs it with scripts/system-packages.sh)"
        )
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed: browser tests skipped (pip install -e '.[dev]')"
    return None


SKIP_REASON = _why_skipped()
_shots: list[Path] = []


def pytest_terminal_summary(terminalreporter):
    if _shots:
        terminalreporter.write_sep("-", "mini-program screenshots")
        terminalreporter.write_line(f"{len(_shots)} screenshots in {SCREENSHOT_DIR}/")
    elif SKIP_REASON:
        terminalreporter.write_sep("-", "mini-program browser tests")
        terminalreporter.write_line(f"SKIPPED: {SKIP_REASON}")


@pytest.fixture(scope="session")
def mock_server(fake_wechat):
    """The mini-program mock's server; each test points it at its own backend (see `backend`)."""
    app = server_module().create_app("http://127.0.0.1:9", fake_wechat.url)
    with ServerThread(app) as server:
        server.app = app
        yield server


@pytest.fixture
def app_config(app_config, mock_server):
    # The village QR link (/q/<code>) leads to the mock's start page.
    return {**app_config, "MINIPROGRAM_URL": mock_server.url + "/"}


@pytest.fixture
def backend(app, with_regions, mock_server, clock):
    """The backend behind a real HTTP server, with the fake tax bureau confirming back to it."""
    with serve(app) as server:
        bureau_app = create_fake_bureau(
            callback_url=server.url + "/api/tax/v1/treasury-entries",
            time_scale=0.01,
            confirm_delay=0.5,
            clock=clock.timestamp,
        )
        with ServerThread(bureau_app) as bureau:
            app.config["APP_CONFIG"].TAX_LEDGER_URL = bureau.url
            mock_server.app.config["API_URL"] = server.url
            yield server
        bureau_app.extensions["fake_tax"].close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshot_dir():
    shutil.rmtree(SCREENSHOT_DIR, ignore_errors=True)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


@pytest.fixture
def phone(browser, backend, request, screenshot_dir):
    """A fresh phone (its own storage, so its own WeChat user) showing the mock."""
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = watch_for_problems(page)
    # Named after the test's first words: test_a_wrong_name_gets_... -> wrong_name-01-....png
    words = [w for w in request.node.name.split("_")[1:] if w not in ("a", "an", "the")]
    prefix = "_".join(words[:2])
    counter = iter(range(1, 100))

    def shot(name: str) -> Path:
        path = screenshot_dir / f"{prefix}-{next(counter):02d}-{name}.png"
        # The whole page on a screen as tall as the page: a full_page shot would leave the sticky
        # bars where the phone's screen ends, over the middle of the page.
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({**PHONE, "height": max(PHONE["height"], height)})
        page.screenshot(path=str(path))
        page.set_viewport_size(PHONE)
        _shots.append(path)
        return path

    page.shot = shot  # type: ignore[attr-defined]
    page.tolerate = []  # type: ignore[attr-defined]  # console messages a test provokes on purpose
    yield page
    context.close()
    problems = [p for p in problems if not any(t in p for t in page.tolerate)]  # type: ignore[attr-defined]
    assert not problems, problems
