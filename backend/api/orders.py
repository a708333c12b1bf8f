"""Resident orders (design.md section 6): create one, read one, list mine, and its QR code."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import qrcode
from flask import current_app, request, send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from backend.api.auth import (
    RESIDENT_SECURITY,
    STAFF_SECURITY,
    current_openid,
    resident_or_staff,
)
from backend.api.resident import _openid_or_address
from backend.auth.staff import StaffIdentity
from backend.infra.web import db_session, limiter, payment_gateway, policy_book
from backend.models import PaymentOrder, Registration
from backend.orders import service
from backend.orders.answers import order_answers

blp = Blueprint("orders", __name__, url_prefix="/api/mp/v1", description="Resident orders")
BLUEPRINTS = [blp]


class ItemIn(Schema):
    registration_ref = fields.String(required=True, validate=validate.Length(1, 32))
    grade_yuan = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        metadata={"description": "pension only; the lowest open grade when left out"},
    )


class OrderIn(Schema):
    items = fields.List(
        fields.Nested(ItemIn), required=True, validate=validate.Length(1, service.MAX_ITEMS)
    )
    trade_type = fields.String(required=True, validate=validate.OneOf(("JSAPI", "NATIVE")))


class IdempotencyHeader(Schema):
    idempotency_key = fields.String(
        required=True,
        data_key="Idempotency-Key",
        validate=validate.Length(8, 64),
        metadata={"description": "a fresh random value per order the payer means to make"},
    )


class OrderItemOut(Schema):
    registration_ref = fields.String()
    name_masked = fields.String()
    scheme = fields.String()
    period_year = fields.Integer()
    grade_yuan = fields.Integer(allow_none=True)
    amount_fen = fields.Integer()
    gov_paid_fen = fields.Integer()
    contribution_subsidy_fen = fields.Integer()
    ledger_state = fields.String(
        metadata={"description": "none | pending | delivered | dead | treasury_entered"}
    )
    tax_receipt_no = fields.String(
        allow_none=True, metadata={"description": "the e-tax receipt number, once confirmed"}
    )
    refunded_fen = fields.Integer(metadata={"description": "given back so far (refunds done)"})


class OrderOut(Schema):
    order_no = fields.String()
    status = fields.String(
        metadata={"description": "created | paid | closed | refund_due | refunded"}
    )
    status_reason = fields.String(allow_none=True)
    trade_type = fields.String()
    total_fen = fields.Integer()
    created_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()
    paid_at = fields.AwareDateTime(allow_none=True)
    transaction_id = fields.String(allow_none=True)
    items = fields.List(fields.Nested(OrderItemOut))
    pay = fields.Dict(
        allow_none=True,
        metadata={
            "description": "while payable: JSAPI, the signed wx.requestPayment parameters; "
            "NATIVE, {code_url, qr_png_url}"
        },
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _qr_url(order: PaymentOrder) -> str | None:
    if order.trade_type != "NATIVE":
        return None
    return url_for("orders.qrcode_png", order_no=order.order_no)


def _answer(order: PaymentOrder) -> dict:
    return order_answers(db_session(), [order], now=_now(), qr_url=_qr_url)[0]


def order_reader(order_no: str) -> PaymentOrder:
    """The order, if the caller may read it: its payer, or staff whose region it touches.

    Anyone else gets the same 404 as for a number that does not exist.
    """
    order = db_session().scalar(select(PaymentOrder).where(PaymentOrder.order_no == order_no))
    viewer = resident_or_staff()
    if order is not None:
        if isinstance(viewer, str) and viewer == order.openid:
            return order
        if isinstance(viewer, StaffIdentity) and viewer.may("view"):
            villages = db_session().scalars(
                select(Registration.village_code).where(
                    Registration.id.in_([i.registration_id for i in order.items])
                )
            )
            if any(viewer.sees(code) for code in villages):
                return order
    abort(404, message="没有找到这笔订单。")


@blp.route("/orders")
class OrdersView(MethodView):
    @blp.doc(security=RESIDENT_SECURITY)
    @blp.arguments(IdempotencyHeader, location="headers")
    @blp.arguments(OrderIn)
    @blp.response(201, OrderOut)
    @blp.alt_response(409, description="a registration is already paid or in another open order")
    @blp.alt_response(422, description="bad items, or the key was used for another request")
    @blp.alt_response(503, description="WeChat Pay could not be reached")
    @limiter.limit(
        lambda: current_app.config["ORDER_LIMIT_PER_OPENID"], key_func=_openid_or_address
    )
    def post(self, headers, body):
        """Create an order for one or more registrations (a household at once).

        The server prices every item; the same Idempotency-Key and body return the same order.
        """
        openid = current_openid()
        cfg = current_app.config["APP_CONFIG"]
        trade_type = body["trade_type"]
        try:
            order, created = service.create_order(
                db_session(),
                payment_gateway(),
                policy_book(),
                openid=openid,
                idempotency_key=headers["idempotency_key"],
                items=[
                    service.ItemRequest(i["registration_ref"], i["grade_yuan"])
                    for i in body["items"]
                ],
                trade_type=trade_type,
                client_ip=(request.remote_addr or "127.0.0.1")
                if trade_type == "JSAPI"
                else cfg.SERVER_IP,
                now=_now(),
                ttl=timedelta(seconds=cfg.ORDER_TTL_SECONDS),
            )
        except service.OrderError as exc:
            errors = {"json": {exc.field: [str(exc)]}} if exc.field else None
            abort(exc.status, message=str(exc), **({"errors": errors} if errors else {}))
        return _answer(order), 201, {"Idempotent-Replayed": "false" if created else "true"}

    @blp.doc(security=RESIDENT_SECURITY)
    @blp.response(200, OrderOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """My orders, newest first."""
        openid = current_openid()
        session = db_session()
        mine = PaymentOrder.openid == openid
        pagination_parameters.item_count = session.scalar(
            select(func.count()).select_from(PaymentOrder).where(mine)
        )
        orders = session.scalars(
            select(PaymentOrder)
            .where(mine)
            .order_by(PaymentOrder.created_at.desc(), PaymentOrder.id.desc())
            .limit(pagination_parameters.page_size)
            .offset(pagination_parameters.first_item)
        ).all()
        return order_answers(session, list(orders), now=_now(), qr_url=_qr_url)


@blp.route("/orders/<order_no>")
class OrderView(MethodView):
    @blp.doc(security=RESIDENT_SECURITY + STAFF_SECURITY)
    @blp.response(200, OrderOut)
    @blp.alt_response(404, description="no such order among the caller's")
    def get(self, order_no):
        """One order with its items. Only its payer, or staff whose region it touches, may read it."""
        return _answer(order_reader(order_no))


@blp.route("/orders/<order_no>/qrcode.png")
@blp.doc(security=RESIDENT_SECURITY)
@blp.response(200, description="PNG of the NATIVE code_url, for a payer to scan")
@blp.alt_response(404, description="no payable NATIVE order of the caller's")
def qrcode_png(order_no):
    order = order_reader(order_no)
    if order.trade_type != "NATIVE" or not order.code_url or order.status != "created":
        abort(404, message="该订单没有可扫码支付的二维码。")
    image = qrcode.make(order.code_url, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    buffer.seek(0)
    return send_file(buffer, mimetype="image/png", max_age=0)
