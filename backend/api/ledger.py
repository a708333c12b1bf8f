"""Staff: the tax ledger outbox by state, each message's attempts, resending dead letters
(admin); pushing a registration to the bureau again (agency or admin, within their region)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.api.downloads import CountyDayQuery, county_in_scope, spreadsheet
from backend.api.pagination import page_of
from backend.infra.web import clock, unit_of_work
from backend.ledger import export, operations
from backend.models import LedgerMessage, Registration
from backend.models.ledger import KINDS, MESSAGE_STATUSES

blp = Blueprint(
    "ledger", __name__, url_prefix="/api/staff/v1/ledger", description="Staff: tax ledger outbox"
)
BLUEPRINTS = [blp]


class OutboxQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(MESSAGE_STATUSES))
    kind = fields.String(
        load_default=None,
        validate=validate.OneOf(KINDS),
        metadata={"description": "payment, reversal or registration (a push)"},
    )


class AttemptOut(Schema):
    attempted_at = fields.AwareDateTime()
    worker = fields.String()
    http_status = fields.Integer(allow_none=True)
    outcome = fields.String()
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()


class MessageOut(Schema):
    message_id = fields.String()
    kind = fields.String()
    collection_no = fields.String(metadata={"description": "the registration's collection serial"})
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.AwareDateTime()
    ledger_ref = fields.String(allow_none=True)
    delivered_at = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    tax_receipt_no = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    attempt_log = fields.List(fields.Nested(AttemptOut))


class SummaryOut(Schema):
    pending = fields.Integer()
    delivered = fields.Integer()
    dead = fields.Integer()


class ResendIn(Schema):
    message_id = fields.String(
        load_default=None, metadata={"description": "one dead letter; all of them when left out"}
    )


class ResendOut(Schema):
    resent = fields.Integer()


class PushIn(Schema):
    collection_no = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "the registration's collection serial (征集流水号)"},
    )


class PushOut(Schema):
    collection_no = fields.String()
    message_id = fields.String(metadata={"description": "the new push message, pending"})


def _scope() -> str | None:
    """The caller's region prefix; None for a city-wide account (every message is the city's)."""
    staff = current_staff()
    return None if staff.city_wide else staff.scope_prefix


@blp.route("/summary")
class Summary(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, SummaryOut)
    @staff_required("admin")
    def get(self):
        """How many messages of your region are pending, delivered and dead."""
        with unit_of_work() as session:
            return operations.counts_by_status(session, _scope())


@blp.route("/messages")
class Messages(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(OutboxQuery, location="query")
    @blp.response(200, MessageOut(many=True))
    @blp.paginate()
    @staff_required("admin")
    def get(self, args, pagination_parameters):
        """Outbox messages of your region, oldest first, with every delivery attempt."""
        query = select(LedgerMessage, Registration.collection_no).join(
            Registration, Registration.id == LedgerMessage.registration_id
        )
        if _scope() is not None:
            query = query.where(Registration.village_code.startswith(_scope(), autoescape=True))
        for name in ("status", "kind"):
            if args[name]:
                query = query.where(getattr(LedgerMessage, name) == args[name])
        shown = [c for c in MessageOut().fields if c not in ("attempt_log", "collection_no")]
        with unit_of_work() as session:
            rows = page_of(session, query.order_by(LedgerMessage.id), pagination_parameters)
            attempts = operations.attempts_of(session, [m.id for m, _ in rows])
        return [
            {
                **{c: getattr(m, c) for c in shown},
                "collection_no": collection_no,
                "attempt_log": attempts[m.id],
            }
            for m, collection_no in rows
        ]


@blp.route("/resend")
class Resend(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(ResendIn, required=False)  # no body: every dead letter
    @blp.response(200, ResendOut)
    @blp.alt_response(404, description="no dead letter with this message_id in your region")
    @staff_required("admin")
    def post(self, body):
        """Put dead letters of your region back in line for the worker (attempts start over)."""
        staff = current_staff()
        resent = operations.resend_dead(
            unit_of_work(),
            actor=f"staff:{staff.name}",
            now=clock().now(),
            message_id=body["message_id"],
            region_code=staff.region_code,
            scope_prefix=_scope(),
        )
        if body["message_id"] and not resent:
            abort(404, message=f"no dead letter {body['message_id']}")
        return {"resent": resent}


@blp.route("/pushes")
class Pushes(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(PushIn)
    @blp.response(201, PushOut)
    @blp.alt_response(404, description="no such registration inside the caller's region")
    @staff_required("import")
    def post(self, body):
        """Push a registration to the bureau again: a new registration message, sent by the
        worker in its next batch.

        For a payment the bureau refused because it does not know the collection serial
        (unknown_collection_no, in the message's last_error): once the push is delivered, the
        payment goes through at its next retry.
        """
        staff = current_staff()
        message_id = operations.push_again(
            unit_of_work(),
            body["collection_no"],
            actor=f"staff:{staff.name}",
            now=clock().now(),
            allowed=lambda village_code, scheme: staff.sees(village_code) and staff.handles(scheme),
        )
        return {"collection_no": body["collection_no"], "message_id": message_id}


@blp.route("/treasury-entries")
class TreasuryEntries(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(CountyDayQuery, location="query")
    @blp.response(200, description="CSV (UTF-8 with BOM) or XLSX, one row per registration")
    @blp.alt_response(404, description="the county is outside the caller's region")
    @staff_required("view")
    def get(self, args):
        """A day's treasury-confirmed registrations of one county and scheme: what agencies book."""
        county = county_in_scope(args)
        with unit_of_work() as session:
            records = list(
                export.rows(session, day=args["date"], county=county, scheme=args["scheme"])
            )
        name = f"treasury-{county}-{args['scheme']}-{args['date']:%Y%m%d}"
        return spreadsheet(export.TABLE, records, name, args["format"])
