"""Operators and integrators: health, the OpenAPI document and its browser view."""

from backend import create_app


def test_healthz_answers_when_the_database_is_reachable(live_server, http):
    answer = http.get(f"{live_server}/healthz")
    assert answer.status_code == 200
    assert answer.json()["database"] == "ok"


def test_healthz_says_503_when_the_database_is_gone(app_config, tmp_path):
    app = create_app({**app_config, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503


def test_openapi_document_lists_the_resident_and_staff_api(live_server, http):
    spec = http.get(f"{live_server}/api/openapi.json").json()
    assert "/api/mp/v1/regions" in spec["paths"]
    assert "/api/staff/v1/me" in spec["paths"]
    docs = http.get(f"{live_server}/api/docs")
    assert docs.status_code == 200
    # The browser view works without Internet access: its assets come from us.
    assert "/api/docs-assets/swagger-ui-bundle.js" in docs.text
    assert http.get(f"{live_server}/api/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_unknown_paths_get_the_json_error_envelope(live_server, http):
    answer = http.get(f"{live_server}/api/mp/v1/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["code"] == 404
