"""Resident subscription messages (订阅消息): what the payer allowed after paying, and what is left."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.auth import RESIDENT_SECURITY, current_openid
from backend.infra.web import clock, unit_of_work
from backend.subscriptions import allowances
from backend.subscriptions.allowances import ANSWERS, Allowance

blp = Blueprint(
    "subscriptions",
    __name__,
    url_prefix="/api/mp/v1",
    description="Resident subscription messages (one-time WeChat subscriptions)",
)
BLUEPRINTS = [blp]

TITLES = {"tax_receipt": "缴费入库通知", "refund": "退款到账通知", "deadline": "缴费截止提醒"}


class SubscriptionsIn(Schema):
    order_no = fields.String(
        required=True,
        validate=validate.Length(1, 32),
        metadata={"description": "the caller's order the prompt followed (its household)"},
    )
    results = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)),
        values=fields.String(validate=validate.OneOf(ANSWERS)),
        required=True,
        validate=validate.Length(1, 3),
        metadata={
            "description": "wx.requestSubscribeMessage's answer per template id: accept | reject "
            "| ban | filter (each accept allows one message of that template)",
            "example": {"demoTaxReceiptTmpl-0000000000000000000001": "accept"},
        },
    )


class AllowanceOut(Schema):
    kind = fields.String(metadata={"description": "tax_receipt | refund | deadline"})
    template_id = fields.String(metadata={"description": "for wx.requestSubscribeMessage"})
    title = fields.String()
    remaining = fields.Integer(metadata={"description": "messages the caller still allows"})
    banned = fields.Boolean(metadata={"description": "the caller chose to always refuse it"})


class SubscriptionsOut(Schema):
    templates = fields.List(fields.Nested(AllowanceOut))


SUBSCRIPTIONS_IN = SubscriptionsIn()


def _answer(found: list[Allowance]) -> dict[str, Any]:
    return {
        "templates": [
            {
                "kind": a.kind,
                "template_id": a.template_id,
                "title": TITLES[a.kind],
                "remaining": a.remaining,
                "banned": a.banned,
            }
            for a in found
        ]
    }


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @blp.doc(security=RESIDENT_SECURITY)
    @blp.response(200, SubscriptionsOut)
    def get(self):
        """The templates to offer and how many messages of each the caller still allows."""
        templates = current_app.config["APP_CONFIG"].subscribe_templates()
        with unit_of_work() as session:
            return _answer(allowances.allowances(session, current_openid(), templates))

    @blp.doc(security=RESIDENT_SECURITY)
    @blp.arguments(SUBSCRIPTIONS_IN)
    @blp.response(200, SubscriptionsOut)
    @blp.alt_response(404, description="no such order among the caller's")
    @blp.alt_response(422, description="a template id that is not one of ours")
    def post(self, body):
        """Report what the payer answered to wx.requestSubscribeMessage after paying.

        Each accept allows one message of its template: the tax receipt of a payment, a finished
        refund, a deadline near for an unpaid registration of the household.
        """
        found = allowances.record_answers(
            unit_of_work(),
            openid=current_openid(),
            order_no=body["order_no"],
            answers=body["results"],
            templates=current_app.config["APP_CONFIG"].subscribe_templates(),
            now=clock().now(),
        )
        return _answer(found)
