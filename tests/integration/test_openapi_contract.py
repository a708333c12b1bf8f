"""The published API contract (docs/openapi.json) is the one the app serves.

The mini-program and outside clients depend on it; a change to it must show up as a diff of
docs/openapi.json in review. Regenerate with:
    .venv/bin/flask --app backend openapi write --format=json docs/openapi.json
"""

import json
from pathlib import Path

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_served_openapi_document_matches_the_committed_contract(live_server, http):
    served = http.get(f"{live_server}/api/openapi.json").json()
    committed = json.loads(CONTRACT.read_text(encoding="utf-8"))
    assert served == committed, (
        "the API changed: review it, then regenerate docs/openapi.json "
        "(.venv/bin/flask --app backend openapi write --format=json docs/openapi.json)"
    )
