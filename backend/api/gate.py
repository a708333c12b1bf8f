"""Authentication before the body: each API view's documented security is checked in a
before_request hook, ahead of flask-smorest, which parses the body in the view's decorators.

So a caller without a valid token is answered 401 without its body being read, however large it
says it is, and never spends the signed-in callers' rate limits: resident requests without a valid
token count in a bucket of their own (per address), which only they can empty. The views keep
their own checks (permissions, the resident's identity); these read what the gate found in `g`.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import Unauthorized

from backend.api.auth import authenticated_staff, current_openid, resident_or_staff
from backend.infra.web import rate_limit_address

RESIDENT, STAFF = "residentToken", "staffToken"


def init_app(app: Flask) -> None:
    app.extensions["security_by_view"] = {}
    app.before_request(authenticate_early)


def authenticate_early() -> None:
    if request.endpoint is None or request.method == "OPTIONS":
        return
    schemes = _schemes(request.endpoint, request.method)
    if schemes == {RESIDENT}:
        try:
            current_openid()
        except Unauthorized:
            _count_anonymous()
            raise
    elif schemes == {STAFF}:
        authenticated_staff()
    elif schemes == {RESIDENT, STAFF}:
        resident_or_staff()


def _count_anonymous() -> None:
    """Requests without a valid resident token: counted apart, and 429 once they are too many."""
    limit = current_app.config["SESSION_LIMIT_PER_ADDRESS"]
    current_app.extensions["rate_limits"].hit([(limit, "anonymous/" + rate_limit_address())])


def _schemes(endpoint: str, method: str) -> frozenset[str]:
    """The security schemes documented for the view (@blp.doc(security=...)), read once."""
    known = current_app.extensions["security_by_view"]
    key = (endpoint, method)
    if key not in known:
        view = current_app.view_functions.get(endpoint)
        view_class = getattr(view, "view_class", None)
        if view_class is not None:
            view = getattr(view_class, "get" if method == "HEAD" else method.lower(), None)
        doc = getattr(view, "_apidoc", {}).get("manual_doc", {})
        known[key] = frozenset(name for need in doc.get("security") or () for name in need)
    return known[key]
