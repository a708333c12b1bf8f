"""Property-based fuzzing of the whole published API with Schemathesis.

Every operation in /api/openapi.json gets generated requests (valid and invalid) over real HTTP
against the app's live server, signed in as a resident (residentToken operations) and as a staff
admin (staffToken operations). Each answer must not be a 5xx and must match the document: a
documented status code, the documented content type, a body matching the response schema, and
an operation that declares a token must refuse a request without one.

The run is small and reproducible (derandomized) so it fits in every test pass; set FUZZ_EXAMPLES
to try more examples per operation, e.g. `FUZZ_EXAMPLES=200 .venv/bin/pytest tests/integration/test_fuzz.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from backend import create_app
from backend.auth.staff import create_staff
from tests.conftest import SEASON, app_settings, serve
from tests.support import database
from tests.support.builders import add_person
from tests.support.regions import CITY, load_regions
from tests.support.resident import sign_in

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
    negative_data_rejection,
    unsupported_method,
]


RATE_LIMITS = (
    "LOOKUP_LIMIT_PER_OPENID",
    "LOOKUP_LIMIT_PER_ADDRESS",
    "SESSION_LIMIT_PER_ADDRESS",
    "ORDER_LIMIT_PER_OPENID",
)

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

# The committed contract, which test_openapi_contract proves is the document the app serves;
# read from disk so that pytest can list one test per operation before any server runs.
schema = schemathesis.openapi.from_path(
    CONTRACT,
    config=schemathesis.Config.from_dict(
        {"generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"}}
    ),
)


@pytest.fixture(scope="module")
def fuzzed(database_url, engine, shared_clock, fake_wechat, fake_exchange, v3_keys):
    """One app server for the whole run (a server per operation would cost more than the fuzzing),
    on a database holding the test regions and one resident's registrations; with the bearer
    headers per security scheme: a signed-in resident and a city-wide staff admin."""
    database.wipe(engine)
    shared_clock.set(SEASON)
    # Both APIs' callback routes fuzzed as a v3 merchant would run them (keys set up).
    settings = app_settings(
        database_url, fake_wechat, fake_exchange, shared_clock, "v2", str(v3_keys.directory)
    )
    # A contract check, not a load test: the fuzzer's bursts (many requests without a token on
    # purpose) must meet the refusal under test, not a 429. The limits have tests of their own.
    settings.update(dict.fromkeys(RATE_LIMITS, "1000000 per minute"))
    app = create_app(settings)
    sessions = app.extensions["db_sessions"]
    with sessions() as session:
        load_regions(session)
        add_person(session)
        staff = create_staff(session, name="fuzz", role="admin", region=CITY, actor="test")
        session.commit()
    with serve(app) as server, requests.Session() as http:
        yield (
            server.url,
            {
                "residentToken": sign_in(http, server.url, fake_wechat),
                "staffToken": {"Authorization": f"Bearer {staff}"},
            },
        )
    app.extensions["db_engine"].dispose()
    app.extensions["db_reader"].engine.dispose()


def auth_headers(case, tokens) -> dict[str, str]:
    """The headers of the first security scheme the operation accepts (none for public ones)."""
    security = case.operation.definition.raw.get("security", [])
    schemes = [name for requirement in security for name in requirement]
    return tokens[schemes[0]] if schemes else {}


@schema.parametrize()
def test_every_answer_is_documented_and_no_input_breaks_the_server(case, fuzzed):
    base_url, tokens = fuzzed
    case.call_and_validate(base_url=base_url, headers=auth_headers(case, tokens), checks=CHECKS)
