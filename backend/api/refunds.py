"""Staff (recon): refund all or part of one paid registration in an order, and follow refunds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.api.pagination import page_of
from backend.infra.web import clock, payment_gateway, unit_of_work
from backend.models import OrderItem, PaymentOrder, Refund, Registration
from backend.models.refunds import REFUND_REASONS, REFUND_STATUSES
from backend.refunds import service as refunds

blp = Blueprint(
    "refunds", __name__, url_prefix="/api/staff/v1/refunds", description="Staff: refunds"
)
BLUEPRINTS = [blp]


class RefundIn(Schema):
    order_no = fields.String(required=True, validate=validate.Length(1, 32))
    registration_ref = fields.String(
        required=True,
        validate=validate.Length(1, 24),
        metadata={"description": "which registration of the order to refund"},
    )
    amount_fen = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "fen to give back; all that is left when left out"},
    )
    reason = fields.String(required=True, validate=validate.OneOf(REFUND_REASONS))
    note = fields.String(load_default=None, validate=validate.Length(max=255))


class IdempotencyHeader(Schema):
    idempotency_key = fields.String(
        load_default=None,
        data_key="Idempotency-Key",
        validate=validate.Length(8, 64),
        metadata={"description": "the same key again returns the refund it made, not a new one"},
    )


class RefundQuery(Schema):
    order_no = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(REFUND_STATUSES))


class RefundOut(Schema):
    refund_no = fields.String(metadata={"description": "our out_refund_no"})
    order_no = fields.String()
    registration_ref = fields.String()
    amount_fen = fields.Integer()
    reason = fields.String()
    note = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "requested | processing | succeeded | failed"})
    refund_id = fields.String(allow_none=True, metadata={"description": "WeChat's refund number"})
    requested_by = fields.String()
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    succeeded_at = fields.AwareDateTime(allow_none=True)


_VIEW = (
    select(Refund, PaymentOrder.order_no, Registration.ref, Registration.village_code)
    .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
    .join(OrderItem, OrderItem.id == Refund.order_item_id)
    .join(Registration, Registration.id == OrderItem.registration_id)
)


def _view(refund: Refund, order_no: str, ref: str) -> dict[str, Any]:
    return {
        **{name: getattr(refund, name) for name in RefundOut().fields if hasattr(refund, name)},
        "order_no": order_no,
        "registration_ref": ref,
    }


def _one(refund_no: str) -> dict[str, Any]:
    with unit_of_work() as session:
        row = session.execute(_VIEW.where(Refund.refund_no == refund_no)).first()
    if row is None or not current_staff().sees(row.village_code):
        abort(404, message="没有找到这笔退款。")
    return _view(row.Refund, row.order_no, row.ref)


@blp.route("")
class Refunds(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(IdempotencyHeader, location="headers")
    @blp.arguments(RefundIn)
    @blp.response(201, RefundOut)
    @blp.alt_response(404, description="no such order or registration in your region")
    @blp.alt_response(409, description="not paid, fully refunded, or a refund is in progress")
    @blp.alt_response(422, description="more than is left to refund, or a reused key")
    @staff_required("recon")
    def post(self, headers, body):
        """Refund one registration of a paid order, in full or in part.

        The refund is recorded first, then sent to WeChat under its own refund number; if WeChat
        cannot take it now, the worker sends it again with the same number. It finishes when
        WeChat reports it (notification, or the worker asking).
        """
        staff = current_staff()
        cfg = current_app.config["APP_CONFIG"]
        now = clock().now()
        refund_no, replayed = refunds.request_refund(
            unit_of_work(),
            refunds.RefundAsk(
                order_no=body["order_no"],
                registration_ref=body["registration_ref"],
                reason=body["reason"],
                amount_fen=body["amount_fen"],
                note=body["note"],
                idempotency_key=headers["idempotency_key"],
            ),
            actor=f"staff:{staff.name}",
            now=now,
            in_scope=staff.sees,
        )
        if not replayed:  # a refund WeChat cannot take now stays requested: the worker resends it
            refunds.submit(
                unit_of_work(),
                payment_gateway(),
                refund_no,
                now=now,
                check_after=timedelta(seconds=cfg.REFUND_CHECK_AFTER_SECONDS),
            )
        return _one(refund_no), 201, {"Idempotent-Replayed": "true" if replayed else "false"}

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(RefundQuery, location="query")
    @blp.response(200, RefundOut(many=True))
    @blp.paginate()
    @staff_required("recon")
    def get(self, args, pagination_parameters):
        """Refunds in your region, newest first."""
        staff = current_staff()
        query = _VIEW.where(
            Registration.village_code.startswith(staff.scope_prefix, autoescape=True)
        )
        if args["order_no"]:
            query = query.where(PaymentOrder.order_no == args["order_no"])
        if args["status"]:
            query = query.where(Refund.status == args["status"])
        with unit_of_work() as session:
            rows = page_of(session, query.order_by(Refund.id.desc()), pagination_parameters)
        return [_view(r.Refund, r.order_no, r.ref) for r in rows]


@blp.route("/<refund_no>")
class OneRefund(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, RefundOut)
    @blp.alt_response(404, description="no such refund in your region")
    @staff_required("recon")
    def get(self, refund_no: str):
        """One refund and where it stands."""
        return _one(refund_no)
