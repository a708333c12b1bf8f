"""Shared fixtures: a real database (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set),
the app, and real HTTP servers for the app and the fakes.

The database is migrated once per run with Alembic (so every run also proves the migrations) and
emptied before each test that asks for it.
"""

from __future__ import annotations

import os

import pytest
import requests

from backend import create_app
from backend.auth.staff import create_staff
from backend.infra.database import make_engine, make_session_factory
from tests.support import database
from tests.support.regions import load_regions
from tests.support.servers import ServerThread

TEST_SECRET = "test-secret-key"


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
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
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
def fake_wechat():
    """The fake WeChat platform as a real HTTP server."""
    from fakes.wechat.server import create_app as create_fake_wechat

    # WeChat's retry schedule (15 s, 15 s, 30 s, ...) runs a hundred times faster in tests.
    fake = create_fake_wechat(time_scale=0.01)
    with ServerThread(fake) as server:
        yield server
    fake.extensions["fake_wechat"].close()


@pytest.fixture
def app_config(database_url, fake_wechat):
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "FAKE_WECHAT_URL": fake_wechat.url + "/",
        "WECHAT_MODE": "fake",
        "REDIS_URL": None,
    }


@pytest.fixture
def app(app_config, clean_db):
    app = create_app(app_config)
    yield app
    app.extensions["db_engine"].dispose()
    app.extensions["db_reader"].engine.dispose()  # its own pool on PostgreSQL


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
    return server


@pytest.fixture
def expiring(app_config, with_regions):
    """A second server on the same database whose orders expire within a second: the first,
    unpaid order of a duplicate payment."""
    with serve(create_app({**app_config, "ORDER_TTL_SECONDS": 1})) as running:
        yield running


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
