"""HTTP API: flask-smorest blueprints, one per resource; views parse, call a service, serialize.

One error envelope everywhere (flask-smorest's): `{"code": 422, "status": "...", "message": "...",
"errors": {...}}`. This is the one place domain errors become HTTP statuses (DOMAIN_STATUS):
services and the core raise backend.errors' kinds and never name a status.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from apispec import BasePlugin
from flask import Flask, jsonify
from flask_smorest import Api
from flask_smorest.error_handler import ErrorSchema as EnvelopeSchema
from flask_smorest.pagination import PaginationMetadataSchema
from marshmallow import fields
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from backend.api import gate, health, receipts, village_links
from backend.errors import Conflict, DomainError, NotFound, Refused, Unavailable
from backend.infra.rate_limits import TooManyRequests

log = logging.getLogger(__name__)

DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Refused: 422,
    Unavailable: 503,
}
RETRY_AFTER_SECONDS = 30  # what a 503 tells the client to wait

API_SPEC = {
    "API_TITLE": "Resident contribution collection",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": health.SWAGGER_UI_ASSETS,
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Self-service payment of resident pension and medical insurance contributions. "
                "Money is always an integer number of fen (1 yuan = 100 fen)."
            )
        },
        "components": {
            "securitySchemes": {
                "residentToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "from POST /api/mp/v1/session",
                },
                "staffToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "from flask staff create",
                },
            }
        },
    },
}


class ErrorSchema(EnvelopeSchema):
    """The error envelope, with the reason code domain errors carry (domain_error_response)."""

    reason = fields.String(
        metadata={"description": "a stable code telling refusals apart, e.g. bill_not_ready"}
    )


class AuthResponses(BasePlugin):
    """Document the refusals of the auth decorators (backend/api/auth.py) on every operation that
    declares a token: 401 without a valid one, and 403 for a staff role lacking the permission."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            schemes = {name for need in operation.get("security", []) for name in need}
            responses = operation.setdefault("responses", {})
            if schemes:
                responses.setdefault("401", "UNAUTHORIZED")
            if "staffToken" in schemes:
                responses.setdefault("403", "FORBIDDEN")


class _Api(Api):
    """flask-smorest's Api, documenting the envelope as sent and the X-Pagination header as the
    JSON object it carries, and answering errors with werkzeug's headers.

    flask-smorest documents the header with a plain object `schema`, which OpenAPI reads as
    `key,value,...` text; a header holding JSON is described under `content` instead.
    """

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        payload, status, headers = super().handle_http_exception(error)
        # Keep the headers werkzeug gives the error, such as the Allow list a 405 must carry.
        kept = {name: value for name, value in error.get_headers() if name != "Content-Type"}
        return payload, status, {**kept, **(headers or {})}

    def _register_pagination_header(self):
        self.spec.components.schema("PaginationMetadata", schema=PaginationMetadataSchema)
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata, as JSON",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/PaginationMetadata"}
                    }
                },
            },
            lazy=True,
        )


def init_api(app: Flask) -> None:
    for key, value in API_SPEC.items():
        app.config.setdefault(key, value)
    cfg = app.config["APP_CONFIG"]
    if cfg.WECHAT_MODE == "live" and not cfg.API_DOCS_PUBLIC:
        # A live deployment does not hand out its map: no /api/docs, no /api/openapi.json (404).
        # `flask openapi write` still writes the document.
        app.config["OPENAPI_URL_PREFIX"] = None
    api = _Api(app, spec_kwargs={"extra_plugins": [AuthResponses()]})
    gate.init_app(app)  # first before_request: authenticate before any body is read

    from backend.api import (
        bulletins,
        collectors,
        discrepancies,
        finance,
        government,
        imports,
        ledger,
        money,
        orders,
        payments,
        posters,
        progress,
        reconciliations,
        refunds,
        regions,
        resident,
        schools,
        settlement,
        staff,
        subscriptions,
        tax,
    )

    app.register_blueprint(health.blp)
    app.register_blueprint(village_links.blp)
    app.register_blueprint(receipts.pages)
    for module in (
        resident,
        orders,
        payments,
        tax,
        regions,
        staff,
        ledger,
        settlement,
        refunds,
        reconciliations,
        discrepancies,
        imports,
        posters,
        progress,
        bulletins,
        government,
        finance,
        schools,
        collectors,
        money,
        subscriptions,
        receipts,
    ):
        for blp in module.BLUEPRINTS:
            api.register_blueprint(blp)
    app.extensions["smorest_api"] = api

    @app.errorhandler(TooManyRequests)
    def too_many_lookups(exc: TooManyRequests):
        return _too_many_requests(exc.limit, exc.retry_after)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return domain_error_response(exc)

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError):
        log.error("database error: %s", exc.__class__.__name__)
        body = {
            "code": 503,
            "status": "Service Unavailable",
            "message": "database unavailable, try again shortly",
        }
        return jsonify(body), 503

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return api.handle_http_exception(exc)
        log.exception("unhandled error")
        body = {
            "code": 500,
            "status": "Internal Server Error",
            "message": "internal error; it has been logged",
        }
        return jsonify(body), 500


def domain_error_status(exc: DomainError) -> int:
    return next((status for kind, status in DOMAIN_STATUS.items() if isinstance(exc, kind)), 422)


def domain_error_response(exc: DomainError):
    """The envelope for a domain error: its message, its reason code, the field it concerns."""
    status = domain_error_status(exc)
    body: dict = {"code": status, "status": HTTPStatus(status).phrase, "message": exc.message}
    if exc.reason:
        body["reason"] = exc.reason
    if exc.field:
        body["errors"] = {"json": {exc.field: [exc.message]}}
    response = jsonify(body)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _too_many_requests(limit: str, retry_after: int | None):
    body = {
        "code": 429,
        "status": "Too Many Requests",
        "message": f"请求过于频繁，请稍后再试（限制：{limit}）。",
    }
    response = jsonify(body)
    response.status_code = 429
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
