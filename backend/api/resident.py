"""Resident API (mini-program contract v1, design.md section 6): sign in, look a person up."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from backend.api.auth import RESIDENT_SECURITY, current_openid
from backend.auth import resident_tokens
from backend.enrollees import lookup as lookup_service
from backend.enrollees.lookup import LookupResult, PricedRegistration
from backend.errors import NotFound
from backend.fees import Quote
from backend.infra.web import clock, policy_book, rate_limit_address, rate_limited, reader
from backend.orders import grants
from backend.payments.wechat.login import LoginRejected, LoginUnavailable, WeChatLoginGateway
from backend.values import id_numbers
from backend.values.beijing import beijing_today
from backend.values.masking import mask_id_number, mask_name

blp = Blueprint(
    "resident", __name__, url_prefix="/api/mp/v1", description="Resident (mini-program) API"
)
BLUEPRINTS = [blp]


def login_gateway() -> WeChatLoginGateway:
    gateway = current_app.extensions.get("login_gateway")
    if gateway is None:
        cfg = current_app.config["APP_CONFIG"]
        gateway = WeChatLoginGateway(cfg.WECHAT_APPID, cfg.WECHAT_SECRET, cfg.wechat_base_urls()[1])
        current_app.extensions["login_gateway"] = gateway
    return gateway


def openid_or_address(app: Flask | None = None) -> str:
    """Rate-limit key: the signed-in WeChat user, or the address when there is no valid token
    (such requests only reach a limit on the public routes: the gate answers the others 401)."""
    if "openid" in g:  # the authentication gate (backend.api.gate) verified it
        return "openid:" + g.openid
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        cfg = app.config["APP_CONFIG"]
        try:
            openid = resident_tokens.verify(
                cfg.SECRET_KEY,
                header[7:].strip(),
                cfg.SESSION_TOKEN_MAX_AGE,
                now=app.extensions["clock"].now(),
            )
        except resident_tokens.InvalidToken:
            return "addr:" + rate_limit_address()
        g.openid = openid  # the view's own authentication need not verify it again
        return "openid:" + openid
    return "addr:" + rate_limit_address()


def _session_limits() -> list[tuple[str, str]]:
    return [(current_app.config["SESSION_LIMIT_PER_ADDRESS"], "session/" + rate_limit_address())]


def _lookup_limits() -> list[tuple[str, str]]:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return [
        (app.config["LOOKUP_LIMIT_PER_OPENID"], "lookup/user/" + openid_or_address(app)),
        (app.config["LOOKUP_LIMIT_PER_ADDRESS"], "lookup/address/" + rate_limit_address()),
    ]


def _failures_key(secret_key: str, id_number: str) -> str:
    """The counter of wrong names for an ID number: a keyed hash, so the store never holds it."""
    number = id_numbers.normalise(id_number)
    digest = hmac.new(secret_key.encode(), f"lookup-failures:{number}".encode(), hashlib.sha256)
    return "lookup/failures/" + digest.hexdigest()[:32]


class SessionIn(Schema):
    code = fields.String(
        required=True,
        validate=validate.Length(1, 128),
        metadata={"description": "the code from wx.login()"},
    )


class SessionOut(Schema):
    token = fields.String(metadata={"description": "send as Authorization: Bearer <token>"})
    expires_in = fields.Integer(metadata={"description": "seconds"})


class LookupIn(Schema):
    id_number = fields.String(
        required=True,
        validate=validate.Length(1, 32),
        metadata={"example": "41072119800101001X", "description": "18 characters; x or X"},
    )
    name = fields.String(
        required=True, validate=validate.Length(1, 64), metadata={"example": "张三"}
    )


LOOKUP_IN = LookupIn()


class BreakdownOut(Schema):
    kind = fields.String(
        metadata={"description": "gross | gov_paid | payable | contribution_subsidy"}
    )
    label = fields.String()
    amount_fen = fields.Integer()


class GradeOut(Schema):
    grade_yuan = fields.Integer()
    payable_fen = fields.Integer()
    gov_paid_fen = fields.Integer()
    contribution_subsidy_fen = fields.Integer()


class RegistrationOut(Schema):
    ref = fields.String(
        metadata={"description": "to order it: bound to the signed-in user, useless to another"}
    )
    scheme = fields.String(metadata={"description": "pension | medical"})
    period_year = fields.Integer()
    status = fields.String(
        metadata={
            "description": "unpaid | pending (in an open order) | paid | treasury_entered; "
            "a registration whose payment was refunded in full is unpaid again"
        }
    )
    payable_fen = fields.Integer(metadata={"description": "pension: at the lowest open grade"})
    gov_paid_fen = fields.Integer()
    contribution_subsidy_fen = fields.Integer()
    grades = fields.List(fields.Nested(GradeOut), metadata={"description": "pension only"})
    breakdown = fields.List(fields.Nested(BreakdownOut))
    applied_group = fields.String(allow_none=True)
    deadline = fields.Date(
        allow_none=True,
        metadata={"description": "the campaign's target date for the scheme (not a cut-off)"},
    )
    ineligible_reason = fields.String(allow_none=True)
    payable_now = fields.Boolean(
        metadata={"description": "whether an order for it can be made today"}
    )
    pay_from = fields.Date(
        allow_none=True, metadata={"description": "the collection window's first day"}
    )
    pay_until = fields.Date(
        allow_none=True,
        metadata={"description": "the last day it can be paid here (late payment: the agency)"},
    )
    not_payable_reason = fields.String(
        allow_none=True,
        metadata={"description": "why it cannot be paid now, when the status does not say it"},
    )


class VillageOut(Schema):
    code = fields.String()
    name = fields.String()
    full_name = fields.String()


class EnrolleeOut(Schema):
    ref = fields.String()
    name_masked = fields.String()
    id_number_masked = fields.String()
    village = fields.Nested(VillageOut)


class LookupOut(Schema):
    enrollee = fields.Nested(EnrolleeOut)
    registrations = fields.List(fields.Nested(RegistrationOut))


@blp.route("/session")
class SessionView(MethodView):
    decorators = (rate_limited(_session_limits),)

    @blp.arguments(SessionIn)
    @blp.response(200, SessionOut)
    @blp.alt_response(401, description="the code is invalid, used or expired")
    @blp.alt_response(503, description="WeChat could not be reached")
    def post(self, body):
        """Exchange a wx.login code for a session token."""
        try:
            openid = login_gateway().code_to_openid(body["code"])
        except LoginRejected:
            abort(401, message="登录凭证无效或已使用，请重新进入小程序。")
        except LoginUnavailable:
            abort(503, message="微信服务暂时不可用，请稍后再试。")
        cfg = current_app.config["APP_CONFIG"]
        return {
            "token": resident_tokens.issue(cfg.SECRET_KEY, openid, now=clock().now()),
            "expires_in": cfg.SESSION_TOKEN_MAX_AGE,
        }


def _money(q: Quote) -> dict[str, Any]:
    return {
        "payable_fen": q.payable_fen,
        "gov_paid_fen": q.gov_paid_fen,
        "contribution_subsidy_fen": q.contribution_subsidy_fen,
    }


def _registration_answer(r: PricedRegistration, ref: str) -> dict[str, Any]:
    chosen = r.chosen
    return {
        "ref": ref,
        "scheme": r.scheme,
        "period_year": r.period_year,
        "status": r.status,
        **(_money(chosen) if chosen else _NO_MONEY),
        "grades": [{"grade_yuan": q.grade_yuan, **_money(q)} for q in r.grades],
        "breakdown": [
            {"kind": line.kind, "label": line.label, "amount_fen": line.amount_fen}
            for line in (chosen.breakdown if chosen else ())
        ],
        "applied_group": chosen.applied_group if chosen else None,
        "deadline": r.deadline.isoformat() if r.deadline else None,
        "ineligible_reason": r.ineligible_reason,
        "payable_now": r.payable_now,
        "pay_from": r.window[0].isoformat() if r.window else None,
        "pay_until": r.window[1].isoformat() if r.window else None,
        "not_payable_reason": r.not_payable_reason,
    }


_NO_MONEY = {"payable_fen": 0, "gov_paid_fen": 0, "contribution_subsidy_fen": 0}


def lookup_answer(found: LookupResult, *, secret_key: str, openid: str) -> dict[str, Any]:
    """LookupOut's shape, built directly: the busiest answer skips the schema dump (a test loads
    every answer back through LookupOut). The person is masked here; each registration's ref is
    granted to the caller `openid` (backend.orders.grants): only they can order with it."""
    return {
        "enrollee": {
            "ref": found.enrollee_ref,
            "name_masked": mask_name(found.name),
            "id_number_masked": mask_id_number(found.id_number),
            "village": {
                "code": found.village.code,
                "name": found.village.name,
                "full_name": found.village.full_name,
            },
        },
        "registrations": [
            _registration_answer(r, grants.grant(secret_key, openid, r.ref))
            for r in found.registrations
        ],
    }


@blp.route("/lookup")
class LookupView(MethodView):
    decorators = (rate_limited(_lookup_limits),)

    @blp.doc(security=RESIDENT_SECURITY)
    @blp.arguments(LOOKUP_IN)  # one instance: a schema per request costs a deep copy
    @blp.response(200, LookupOut)
    @blp.alt_response(404, description="no registered person with this ID number and name")
    @blp.alt_response(422, description="malformed ID number or body")
    @blp.alt_response(429, description="too many lookups")
    def post(self, body):
        """Find a registered person by ID number and name; price each registration, and say
        whether it can be paid today (inside its collection window) and until when."""
        openid = current_openid()
        cfg = current_app.config["APP_CONFIG"]
        now = clock().now()
        # Too many wrong names for this ID number: every lookup of it is "not found" for a while
        # (the right name too, so the lock tells nothing), and guessing a name stops paying.
        limits, allowed = current_app.extensions["rate_limits"], cfg.LOOKUP_FAILURES_PER_ID
        key = _failures_key(cfg.SECRET_KEY, body["id_number"])
        if limits.locked(key, allowed, now=now.timestamp()):
            raise NotFound(lookup_service.NOT_REGISTERED, reason="not_registered")
        try:
            found = lookup_service.lookup(
                reader(),
                policy_book(),
                cfg.SECRET_KEY,
                body["id_number"],
                body["name"],
                today=beijing_today(now),
            )
        except NotFound:
            limits.count_failure(key, allowed, now=now.timestamp())
            raise
        return jsonify(lookup_answer(found, secret_key=cfg.SECRET_KEY, openid=openid))
