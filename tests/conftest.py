"""Shared fixtures: a real database (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set),
the app, and real HTTP servers for the app and the fakes.

The database is migrated once per run with Alembic (so every run also proves the migrations) and
emptied before each test that asks for it.

Every test stands inside the 2019 collection season, on one business clock shared by the app,
the fake WeChat platform, the fake bureaus, the fake exchange and the worker: each test starts it
at SEASON, and a test that waits for time (an order's expiry, a lease, the next day's bill) moves
it forward (`clock.advance(...)`) instead of sleeping.
"""

from __future__ import annotations

import os
from datetime import datetime

import pytest
import requests
from hypothesis import HealthCheck, settings

from backend import create_app
from backend.auth.staff import create_staff
from backend.infra.clock import CLOCK_OPTION, ShiftedClock
from backend.infra.database import make_engine, make_session_factory
from backend.infra.web import new_unit_of_work
from backend.values.beijing import BEIJING
from tests.support import database, receipts
from tests.support.regions import load_regions
from tests.support.resident import TEST_SECRET
from tests.support.servers import ServerThread

# Properties are judged on what they find, not on how fast a busy machine generates examples:
# no per-example deadline and no "too slow" health check, which fail on load alone.
settings.register_profile(
    "project", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("project")

# Inside the 2019 collection window (2019-09-01 to 2019-12-31) and after the pension target date.
SEASON = datetime(2019, 11, 20, 9, 0, tzinfo=BEIJING)


def pytest_report_header(config):
    url = os.environ.get("TEST_DATABASE_URL")
    return f"database: {'PostgreSQL ' + url if url else 'SQLite (temporary file)'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        url = database.create_postgres_database(server_url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    database.migrate(url)
    yield url
    if server_url:
        database.drop_postgres_database(url, server_url)


@pytest.fixture(scope="session")
def shared_clock():
    return ShiftedClock(SEASON)


@pytest.fixture
def clock(shared_clock):
    """The business clock, at SEASON when the test starts; move it with clock.advance()."""
    shared_clock.set(SEASON)
    return shared_clock


@pytest.fixture(scope="session")
def engine(database_url, shared_clock):
    engine = make_engine(database_url)
    yield engine.execution_options(**{CLOCK_OPTION: shared_clock})
    engine.dispose()


@pytest.fixture
def clean_db(engine):
    database.wipe(engine)
    return engine


@pytest.fixture
def db(clean_db):
    """A session on an empty database (regions not loaded)."""
    with make_session_factory(clean_db)() as session:
        yield session


@pytest.fixture
def regions_db(db):
    """A session on a database holding the small test region tree."""
    load_regions(db)
    return db


@pytest.fixture(scope="session")
def v3_keys(tmp_path_factory):
    """The merchant's and the platform's WeChat Pay API v3 keys, made once per run."""
    from fakes.wechat.v3keys import ensure_keys

    return ensure_keys(tmp_path_factory.mktemp("wechat-v3"))


@pytest.fixture(scope="session")
def fake_wechat(shared_clock, v3_keys):
    """The fake WeChat platform as a real HTTP server, on the tests' business clock, speaking
    WeChat Pay API v2 and v3."""
    from fakes.wechat.server import create_app as create_fake_wechat

    # WeChat's retry schedule (15 s, 15 s, 30 s, ...) runs a hundred times faster in tests.
    fake = create_fake_wechat(
        time_scale=0.01, wall_clock=shared_clock.timestamp, v3_keys_dir=str(v3_keys.directory)
    )
    with ServerThread(fake) as server:
        yield server
    fake.extensions["fake_wechat"].close()


@pytest.fixture(scope="session")
def fake_exchange(shared_clock):
    """The fake data exchange platform as a real HTTP server, on the tests' business clock."""
    from fakes.exchange.server import create_app as create_fake_exchange

    with ServerThread(create_fake_exchange(clock=shared_clock.timestamp)) as server:
        yield server


@pytest.fixture
def pay_api(request) -> str:
    """The WeChat Pay API the app pays through: v2, unless a test is parametrised over both
    (tests.support.pay_apis.BOTH_PAY_APIS)."""
    return getattr(request, "param", "v2")


@pytest.fixture
def app_config(database_url, fake_wechat, fake_exchange, clock, pay_api, v3_keys):
    return app_settings(
        database_url, fake_wechat, fake_exchange, clock, pay_api, str(v3_keys.directory)
    )


def app_settings(
    database_url, fake_wechat, fake_exchange, clock, pay_api="v2", v3_key_dir=None
) -> dict:
    """The app's settings in tests: the test database, the fakes, the business clock."""
    return {
        "WECHAT_PAY_API": pay_api,
        "WECHAT_V3_KEY_DIR": v3_key_dir,
        "TESTING": True,
        "CLOCK": clock,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "FAKE_WECHAT_URL": fake_wechat.url + "/",
        "WECHAT_MODE": "fake",
        "EXCHANGE_URL": fake_exchange.url,
        "REDIS_URL": None,
        # Tests read progress right after rolling it; test_progress tests the answer cache itself.
        "PROGRESS_CACHE_SECONDS": 0,
        "RECEIPT_SIGNING_KEY": receipts.signing_key_file(),
    }


@pytest.fixture
def app(app_config, clean_db):
    app = create_app(app_config)
    yield app
    app.extensions["db_engine"].dispose()
    app.extensions["db_reader"].engine.dispose()  # its own pool on PostgreSQL


@pytest.fixture
def uow(app):
    """A unit of work on the app's database and clock, for calling services directly."""
    return new_unit_of_work(app)


@pytest.fixture
def live_server(app):
    """The app behind a real HTTP server; yields its base URL (where WeChat's callbacks go too)."""
    with serve(app) as server:
        yield server.url


def serve(app) -> ServerThread:
    """A ServerThread for `app` whose notify_url points at the server itself."""
    server = ServerThread(app)
    app.config["APP_CONFIG"].PUBLIC_BASE_URL = server.url
    app.extensions.pop("payment_gateway", None)
    app.extensions.pop("other_payment_gateways", None)
    return server


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture
def staff_token(app):
    """Factory: create a staff user and return their token."""
    sessions = app.extensions["db_sessions"]

    def make(role: str = "admin", region: str = "410700", name: str | None = None) -> str:
        with sessions() as session:
            token = create_staff(
                session, name=name or f"{role}-{region}", role=role, region=region, actor="test"
            )
            session.commit()
        return token

    return make


@pytest.fixture
def with_regions(app):
    with app.extensions["db_sessions"]() as session:
        load_regions(session)
