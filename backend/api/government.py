"""Staff (agency): government-paid batches (代缴/资助) — draft, read, confirm, cancel."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.api.pagination import page_of
from backend.government import batches, confirming, views
from backend.government.batches import BatchKey
from backend.infra.web import policy_book, unit_of_work

blp = Blueprint(
    "government",
    __name__,
    url_prefix="/api/staff/v1/government-batches",
    description="Staff: registrations the government pays in full, confirmed in batches",
)
BLUEPRINTS = [blp]

_SCHEME = validate.OneOf(("pension", "medical"))
_COUNTY = validate.Regexp(r"^\d{6}(0{6})?$", error="county must be a 6-digit county code")


class DraftIn(Schema):
    county = fields.String(required=True, validate=_COUNTY, metadata={"example": "410721"})
    scheme = fields.String(required=True, validate=_SCHEME)
    period_year = fields.Integer(required=True, validate=validate.Range(2000, 2100))


class BatchQuery(Schema):
    county = fields.String(load_default=None, validate=_COUNTY)
    scheme = fields.String(load_default=None, validate=_SCHEME)
    period_year = fields.Integer(load_default=None, validate=validate.Range(2000, 2100))
    status = fields.String(
        load_default=None, validate=validate.OneOf(("draft", "confirmed", "cancelled"))
    )


class BatchOut(Schema):
    batch_no = fields.String(metadata={"example": "G4107212020M0001"})
    county_code = fields.String()
    scheme = fields.String()
    period_year = fields.Integer()
    status = fields.String(metadata={"description": "draft, confirmed or cancelled"})
    item_count = fields.Integer(metadata={"description": "registrations listed when drafted"})
    total_fen = fields.Integer(metadata={"description": "what finance pays for them, in fen"})
    credited_count = fields.Integer(allow_none=True)
    credited_fen = fields.Integer(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    confirmed_by = fields.String(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)


class ItemOut(Schema):
    registration_ref = fields.String()
    collection_no = fields.String()
    village_code = fields.String()
    name_masked = fields.String()
    id_number_masked = fields.String()
    applied_group = fields.String()
    grade_yuan = fields.Integer(allow_none=True)
    gov_paid_fen = fields.Integer()
    contribution_subsidy_fen = fields.Integer()
    outcome = fields.String(metadata={"description": "listed, credited or skipped"})
    skip_reason = fields.String(allow_none=True)
    skip_note = fields.String(allow_none=True)
    registration_status = fields.String()


class BatchDetailOut(BatchOut):
    items = fields.List(fields.Nested(ItemOut))


def _detail(batch_no: str) -> dict:
    with unit_of_work() as session:
        return views.batch_view(session, current_staff(), batch_no)


@blp.route("")
class Batches(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(DraftIn)
    @blp.response(201, BatchDetailOut)
    @blp.alt_response(404, description="unknown county, or outside the caller's region")
    @blp.alt_response(409, description="a draft of this county, scheme and year exists")
    @blp.alt_response(422, description="nobody to list")
    @staff_required("import")
    def post(self, args):
        """Draft a batch: the county's unpaid registrations the government pays in full.

        Each is priced by the fee engine with the person's special-group memberships of the year
        (pension: the lowest grade open to them). One draft at a time per county, scheme and year.
        """
        key = BatchKey(args["county"][:6].ljust(12, "0"), args["scheme"], args["period_year"])
        batch_no = batches.draft(unit_of_work(), policy_book(), current_staff(), key)
        return _detail(batch_no)

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BatchQuery, location="query")
    @blp.response(200, BatchOut(many=True))
    @blp.paginate()
    @staff_required("view")
    def get(self, args, pagination_parameters):
        """The batches inside the caller's region, newest first."""
        if args["county"]:
            args["county_code"] = args.pop("county")[:6].ljust(12, "0")
        else:
            args.pop("county")
        with unit_of_work() as session:
            found = page_of(session, views.listed(current_staff(), **args), pagination_parameters)
            return [views.summary(batch) for batch in found]


@blp.route("/<batch_no>")
class Batch(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BatchDetailOut)
    @blp.alt_response(404, description="no such batch in the caller's region")
    @staff_required("view")
    def get(self, batch_no):
        """A batch with its items (names and ID numbers masked) and, once confirmed, each
        item's outcome."""
        return _detail(batch_no)


@blp.route("/<batch_no>/confirm")
class Confirm(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BatchDetailOut)
    @blp.alt_response(404, description="no such batch in the caller's region")
    @blp.alt_response(409, description="the batch was cancelled")
    @staff_required("import")
    def post(self, batch_no):
        """Finance paid the batch: credit its registrations (channel government), once.

        Items no longer unpaid, or no longer paid in full by the government, are skipped with a
        reason. Confirming again answers the same result and changes nothing.
        """
        confirming.confirm(unit_of_work(), policy_book(), current_staff(), batch_no)
        return _detail(batch_no)


@blp.route("/<batch_no>/cancel")
class Cancel(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BatchDetailOut)
    @blp.alt_response(404, description="no such batch in the caller's region")
    @blp.alt_response(409, description="the batch is confirmed")
    @staff_required("import")
    def post(self, batch_no):
        """Cancel a draft, so that a new one can be drafted."""
        batches.cancel(unit_of_work(), current_staff(), batch_no)
        return _detail(batch_no)
