"""Staff (recon): reconciliation discrepancies inside the caller's region, and resolving them."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.api.pagination import window
from backend.api.paths import ROW_ID
from backend.infra.web import clock, unit_of_work
from backend.models.discrepancies import KINDS, STATUSES
from backend.recon import discrepancies

blp = Blueprint(
    "discrepancies",
    __name__,
    url_prefix="/api/staff/v1/discrepancies",
    description="Staff: reconciliation discrepancies and their resolution",
)
BLUEPRINTS = [blp]

KIND_HELP = (
    "missing_in_ours (WeChat has a payment we do not) | missing_in_bill (we have a payment "
    "WeChat's bill does not) | amount_mismatch | status_mismatch (e.g. a refund on one side "
    "only) | duplicate_payment (a second payment for registrations already paid)"
)
STATUS_HELP = (
    "open (waits for a person) | held (missing_in_bill inside its 2-day wait for a later bill) | "
    "fixed (the automatic fix took care of it) | resolved (a person resolved it) | cleared "
    "(gone on a later run)"
)


class DiscrepancyQuery(Schema):
    date = fields.Date(load_default=None, metadata={"description": "the bill day (Beijing)"})
    status = fields.String(
        load_default=None, validate=validate.OneOf(STATUSES), metadata={"description": STATUS_HELP}
    )
    kind = fields.String(
        load_default=None, validate=validate.OneOf(KINDS), metadata={"description": KIND_HELP}
    )
    county = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\d{6}$", error="county must be a 6-digit code"),
        metadata={
            "description": "limit to this county (inside your own scope)",
            "example": "410721",
        },
    )


class DiscrepancyOut(Schema):
    id = fields.Integer()
    bill_date = fields.Date(metadata={"description": "the day of WeChat's bill it was found in"})
    kind = fields.String(metadata={"description": KIND_HELP})
    order_no = fields.String(metadata={"description": "our order number (out_trade_no)"})
    refund_no = fields.String(
        metadata={"description": "our refund number (out_refund_no); empty for a payment"}
    )
    transaction_id = fields.String(allow_none=True, metadata={"description": "WeChat's number"})
    ours_fen = fields.Integer(allow_none=True, metadata={"description": "our amount, fen"})
    bill_fen = fields.Integer(allow_none=True, metadata={"description": "the bill's amount, fen"})
    county = fields.String(
        allow_none=True,
        metadata={"description": "6-digit county of the order; null when the order is not ours"},
    )
    status = fields.String(metadata={"description": STATUS_HELP})
    fix = fields.String(allow_none=True, metadata={"description": "what the automatic fix did"})
    resolution = fields.String(allow_none=True, metadata={"description": "the resolver's reason"})
    resolved_by = fields.String(allow_none=True, metadata={"description": "who resolved it"})
    resolved_at = fields.AwareDateTime(allow_none=True)
    first_seen_at = fields.AwareDateTime(metadata={"description": "first found by reconciliation"})
    last_seen_at = fields.AwareDateTime(metadata={"description": "last found by reconciliation"})


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("请填写处理原因。")


class ResolveIn(Schema):
    reason = fields.String(
        required=True,
        validate=[
            _not_blank,
            validate.Length(
                max=discrepancies.REASON_MAX,
                error=f"处理原因不能超过 {discrepancies.REASON_MAX} 个字。",
            ),
        ],
        metadata={
            "description": "why it is resolved and what was done (recorded with your name)",
            "example": "已与微信支付核实：用户重复支付，已于次日全额退款。",
        },
    )


@blp.route("")
class Discrepancies(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(DiscrepancyQuery, location="query")
    @blp.response(200, DiscrepancyOut(many=True))
    @blp.paginate()
    @staff_required("recon")
    def get(self, args, pagination_parameters):
        """Discrepancies inside the caller's region, newest bill day first.

        County staff see their county's; city staff also those of payments that are not ours
        (no county).
        """
        offset, limit = window(pagination_parameters)
        with unit_of_work() as session:
            page = discrepancies.list_discrepancies(
                session,
                scope_prefix=current_staff().scope_prefix,
                bill_date=args["date"],
                status=args["status"],
                kind=args["kind"],
                county=args["county"],
                offset=offset,
                limit=limit,
            )
        pagination_parameters.item_count = page.total
        return page.items


@blp.route(f"/<{ROW_ID}:discrepancy_id>")
class Discrepancy(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, DiscrepancyOut)
    @blp.alt_response(404, description="no such discrepancy inside the caller's region")
    @staff_required("recon")
    def get(self, discrepancy_id):
        """One discrepancy."""
        with unit_of_work() as session:
            return discrepancies.get(
                session, discrepancy_id, scope_prefix=current_staff().scope_prefix
            )


@blp.route(f"/<{ROW_ID}:discrepancy_id>/resolve")
class Resolve(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(ResolveIn)
    @blp.response(200, DiscrepancyOut)
    @blp.alt_response(404, description="no such discrepancy inside the caller's region")
    @blp.alt_response(409, description="not open: resolved already, held, fixed or cleared")
    @staff_required("recon")
    def post(self, body, discrepancy_id):
        """Resolve an open discrepancy with a reason; recorded with the caller's name and audited.

        Only open discrepancies wait for a person: held ones wait for a later bill, fixed and
        cleared ones need nothing.
        """
        staff = current_staff()
        return discrepancies.resolve(
            unit_of_work(),
            discrepancy_id,
            reason=body["reason"],
            actor=staff.name,
            now=clock().now(),
            scope_prefix=staff.scope_prefix,
        )
