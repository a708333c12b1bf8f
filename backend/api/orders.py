"""Resident orders (design.md section 6): create one, read one, list mine, and its QR code."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import qrcode
from flask import current_app, jsonify, request, send_file, url_for
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
from backend.api.pagination import window
from backend.api.receipts import item_receipt_url
from backend.api.resident import openid_or_address
from backend.auth.staff import StaffIdentity
from backend.infra.web import (
    clock,
    payment_gateway,
    policy_book,
    rate_limited,
    reader,
    unit_of_work,
)
from backend.models import PaymentOrder
from backend.orders import grants
from backend.orders.cancelling import cancel_order
from backend.orders.channels import TRADE_TYPES
from backend.orders.creation import MAX_ITEMS, ItemRequest, OrderRequest, create_order
from backend.orders.views import OrderView, order_views
from backend.values.masking import mask_name

blp = Blueprint("orders", __name__, url_prefix="/api/mp/v1", description="Resident orders")
BLUEPRINTS = [blp]


class ItemIn(Schema):
    registration_ref = fields.String(
        required=True,
        validate=validate.Length(1, 64),
        metadata={"description": "a ref from this user's own lookup (bound to the user)"},
    )
    grade_yuan = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        metadata={"description": "pension only; the lowest open grade when left out"},
    )


class OrderIn(Schema):
    items = fields.List(
        fields.Nested(ItemIn), required=True, validate=validate.Length(1, MAX_ITEMS)
    )
    trade_type = fields.String(required=True, validate=validate.OneOf(TRADE_TYPES))


class IdempotencyHeader(Schema):
    idempotency_key = fields.String(
        required=True,
        data_key="Idempotency-Key",
        validate=validate.Length(8, 64),
        metadata={"description": "a fresh random value per order the payer means to make"},
    )


ORDER_IN, IDEMPOTENCY_HEADER = OrderIn(), IdempotencyHeader()


class OrderItemOut(Schema):
    registration_ref = fields.String(
        metadata={"description": "the payer sees the ref their lookup gave; staff the plain one"}
    )
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
    receipt_url = fields.String(
        allow_none=True,
        metadata={
            "description": "the receipt (缴费凭证) page anyone can check, its QR code's address; "
            "null until the payment is credited"
        },
    )


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


def _order_limits() -> list[tuple[str, str]]:
    return [(current_app.config["ORDER_LIMIT_PER_OPENID"], "orders/" + openid_or_address())]


def order_answer(order: OrderView, now: datetime, *, to_payer: bool = True) -> dict[str, Any]:
    """OrderOut's shape, built directly (a test loads every answer back through OrderOut):
    names masked, times in ISO 8601, the means to pay only while the order is payable. The
    payer (`to_payer`) sees each registration's ref as granted to them by their lookup."""
    if to_payer:
        secret = current_app.config["APP_CONFIG"].SECRET_KEY

        def shown(ref: str) -> str:
            return grants.grant(secret, order.openid, ref)
    else:

        def shown(ref: str) -> str:
            return ref

    pay: dict[str, Any] | None = None
    if order.payable(now):
        if order.trade_type == "JSAPI" and order.pay_params:
            pay = dict(order.pay_params)
        elif order.trade_type == "NATIVE" and order.code_url:
            qr_png_url = url_for("orders.qrcode_png", order_no=order.order_no)
            pay = {"code_url": order.code_url, "qr_png_url": qr_png_url}
    return {
        "order_no": order.order_no,
        "status": order.status,
        "status_reason": order.status_reason,
        "trade_type": order.trade_type,
        "total_fen": order.total_fen,
        "created_at": order.created_at.isoformat(),
        "expires_at": order.expires_at.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "transaction_id": order.transaction_id,
        "items": [
            {
                "registration_ref": shown(item.registration_ref),
                "name_masked": mask_name(item.holder_name),
                "scheme": item.scheme,
                "period_year": item.period_year,
                "grade_yuan": item.grade_yuan,
                "amount_fen": item.amount_fen,
                "gov_paid_fen": item.gov_paid_fen,
                "contribution_subsidy_fen": item.contribution_subsidy_fen,
                "ledger_state": item.ledger_state,
                "tax_receipt_no": item.tax_receipt_no,
                "refunded_fen": item.refunded_fen,
                "receipt_url": item_receipt_url(order, item),
            }
            for item in order.items
        ],
        "pay": pay,
    }


def readable_order(order_no: str) -> tuple[OrderView, bool]:
    """The order, if the caller may read it: its payer, or staff whose region it touches; and
    whether the caller is its payer.

    Anyone else gets the same 404 as for a number that does not exist.
    """
    viewer = resident_or_staff()
    with unit_of_work() as session:
        found = order_views(session, PaymentOrder.order_no == order_no)
    if found:
        order = found[0]
        if isinstance(viewer, str) and viewer == order.openid:
            return order, True
        if (
            isinstance(viewer, StaffIdentity)
            and viewer.may("view")
            and any(viewer.sees(item.village_code) for item in order.items)
        ):
            return order, False
    abort(404, message="没有找到这笔订单。")


@blp.route("/orders")
class OrdersView(MethodView):
    @rate_limited(_order_limits)  # outermost: counted before flask-smorest parses the body
    @blp.doc(security=RESIDENT_SECURITY)
    @blp.arguments(IDEMPOTENCY_HEADER, location="headers")  # instances: no schema per request
    @blp.arguments(ORDER_IN)
    @blp.response(201, OrderOut)
    @blp.alt_response(
        409,
        description="a registration is already paid or in another open order, or the payer "
        "has OPEN_ORDERS_PER_RESIDENT orders waiting for payment (too_many_open_orders)",
    )
    @blp.alt_response(
        422,
        description="bad items (a ref not from this user's own lookup is unknown), outside "
        "the collection window, or the key was reused",
    )
    @blp.alt_response(503, description="WeChat Pay could not be reached")
    @blp.alt_response(429, description="too many orders from one payer")
    def post(self, headers, body):
        """Create an order for one or more registrations (a household at once).

        The server prices every item; the same Idempotency-Key and body return the same order.
        Registrations are named by the refs this user's own lookup gave, and paid inside their
        policy's collection window only. A payer has at most OPEN_ORDERS_PER_RESIDENT orders
        waiting for payment at once.
        """
        openid = current_openid()
        cfg = current_app.config["APP_CONFIG"]
        trade_type = body["trade_type"]
        # Only refs this user's own lookups granted (see backend.orders.grants).
        refs = [grants.redeem(cfg.SECRET_KEY, openid, i["registration_ref"]) for i in body["items"]]
        now = clock().now()
        order, replayed = create_order(
            unit_of_work(),
            reader(),
            payment_gateway(),
            policy_book(),
            OrderRequest(
                openid=openid,
                idempotency_key=headers["idempotency_key"],
                items=tuple(
                    ItemRequest(ref, i["grade_yuan"])
                    for ref, i in zip(refs, body["items"], strict=True)
                ),
                trade_type=trade_type,
                client_ip=(request.remote_addr or "127.0.0.1")
                if trade_type == "JSAPI"
                else cfg.SERVER_IP,
            ),
            now=now,
            ttl=timedelta(seconds=cfg.ORDER_TTL_SECONDS),
            check_after=timedelta(seconds=cfg.ORDER_CHECK_AFTER_SECONDS),
            open_orders_cap=cfg.OPEN_ORDERS_PER_RESIDENT,
        )
        response = jsonify(order_answer(order, now))
        response.status_code = 201
        response.headers["Idempotent-Replayed"] = "true" if replayed else "false"
        return response

    @blp.doc(security=RESIDENT_SECURITY)
    @blp.response(200, OrderOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """My orders, newest first."""
        mine = PaymentOrder.openid == current_openid()
        with unit_of_work() as session:
            pagination_parameters.item_count = session.scalar(
                select(func.count()).select_from(PaymentOrder).where(mine)
            )
            offset, limit = window(pagination_parameters)
            orders = order_views(session, mine, newest_first=True, offset=offset, limit=limit)
        now = clock().now()
        return jsonify([order_answer(order, now) for order in orders])


@blp.route("/orders/<order_no>")
class OneOrder(MethodView):
    @blp.doc(security=RESIDENT_SECURITY + STAFF_SECURITY)
    @blp.response(200, OrderOut)
    @blp.alt_response(404, description="no such order among the caller's")
    def get(self, order_no):
        """One order with its items. Only its payer, or staff whose region it touches, may read it."""
        order, to_payer = readable_order(order_no)
        return jsonify(order_answer(order, clock().now(), to_payer=to_payer))


@blp.route("/orders/<order_no>/qrcode.png")
@blp.doc(security=RESIDENT_SECURITY + STAFF_SECURITY)  # readable_order: its payer, or staff
@blp.response(200, description="PNG of the NATIVE code_url, for a payer to scan")
@blp.alt_response(404, description="no payable NATIVE order of the caller's")
def qrcode_png(order_no):
    order, _ = readable_order(order_no)
    if order.trade_type != "NATIVE" or not order.code_url or not order.payable(clock().now()):
        abort(404, message="该订单没有可扫码支付的二维码。")
    return qr_png(order.code_url)


def qr_png(code_url: str):
    """A PNG of the QR code a payer scans to pay `code_url` (never cached: it expires)."""
    image = qrcode.make(code_url, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    buffer.seek(0)
    return send_file(buffer, mimetype="image/png", max_age=0)


def _cancel_limits() -> list[tuple[str, str]]:
    return [(current_app.config["ORDER_LIMIT_PER_OPENID"], "orders/cancel/" + openid_or_address())]


@blp.route("/orders/<order_no>/cancel")
class CancelOrder(MethodView):
    @rate_limited(_cancel_limits)
    @blp.doc(security=RESIDENT_SECURITY)
    @blp.response(200, OrderOut)
    @blp.alt_response(404, description="no such order among the caller's")
    @blp.alt_response(409, description="the order is paid (also when paid at WeChat just now)")
    @blp.alt_response(429, description="too many requests from one payer")
    @blp.alt_response(503, description="WeChat Pay could not be reached; nothing changed")
    def post(self, order_no):
        """Cancel an unpaid order of mine: closed at WeChat, its registrations free to order again.

        The answer is the order, closed (status_reason cancelled). Cancelling a closed order again
        answers the same; a paid one cannot be cancelled (409), nor one paid at WeChat just before
        the cancel (its payment is recorded).
        """
        openid = current_openid()
        now = clock().now()
        cancel_order(unit_of_work(), payment_gateway(), order_no=order_no, openid=openid, now=now)
        with unit_of_work() as session:
            (order,) = order_views(session, PaymentOrder.order_no == order_no)
        return jsonify(order_answer(order, now))
