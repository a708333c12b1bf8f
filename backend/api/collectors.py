"""Collecting units (代征单位) and their batches: the collector records local payments, the agency
closes a batch (单据号) or cancels it; and the bureau's callback with a declaration's treasury
entries (signed like its other callbacks)."""

from __future__ import annotations

import logging

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.api.downloads import MIMETYPES
from backend.api.pagination import page_of
from backend.collectors import closing, entries, recording, roster, upload, views
from backend.errors import DomainError
from backend.infra.web import clock, policy_book, unit_of_work
from backend.ledger.signing import verify

log = logging.getLogger(__name__)

blp = Blueprint(
    "collectors",
    __name__,
    url_prefix="/api/staff/v1/collector-batches",
    description="Staff: collecting units' batches of local payments (代征, 单据号)",
)
lists = Blueprint(
    "collector_list",
    __name__,
    url_prefix="/api/staff/v1/collector-list",
    description="Staff (collector): the unit's list of registered residents, as XLSX",
)
bureau = Blueprint(
    "declaration_entries",
    __name__,
    url_prefix="/api/tax/v1",
    description="Tax bureau callbacks (X-Timestamp, X-Signature: HMAC-SHA256 with the shared secret)",
)
BLUEPRINTS = [blp, lists, bureau]

_SCHEME = validate.OneOf(("pension", "medical"))
_STATUSES = ("open", "closed", "declared", "refused", "entered", "booked", "cancelled")


class CollectingUnitOut(Schema):
    kind = fields.String(metadata={"description": "village, township or health_institution"})
    name = fields.String()
    region_code = fields.String()


class CollectorBatchOut(Schema):
    batch_no = fields.String(metadata={"example": "C410721-3-1"})
    declaration_no = fields.String(
        allow_none=True, metadata={"description": "单据号, made when the agency closes the batch"}
    )
    status = fields.String(metadata={"description": ", ".join(_STATUSES)})
    status_label = fields.String()
    unit = fields.Nested(CollectingUnitOut)
    county_code = fields.String()
    item_count = fields.Integer()
    total_fen = fields.Integer()
    pension_count = fields.Integer(allow_none=True)
    medical_count = fields.Integer(allow_none=True)
    accepted_count = fields.Integer(allow_none=True)
    refused_count = fields.Integer(allow_none=True)
    attempts = fields.Integer(metadata={"description": "of the declaration or booking push now"})
    next_attempt_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True, metadata={"description": "the last failed send"})
    booking_ref = fields.String(allow_none=True)
    opened_by = fields.String()
    created_at = fields.DateTime()
    closed_by = fields.String(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    declared_at = fields.DateTime(allow_none=True)
    entered_at = fields.DateTime(allow_none=True)
    booked_at = fields.DateTime(allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)


class CollectorItemOut(Schema):
    registration_ref = fields.String()
    collection_no = fields.String()
    village_code = fields.String()
    name_masked = fields.String()
    id_number_masked = fields.String()
    scheme = fields.String()
    period_year = fields.Integer()
    grade_yuan = fields.Integer(allow_none=True)
    amount_fen = fields.Integer()
    gov_paid_fen = fields.Integer()
    outcome = fields.String(
        metadata={"description": "recorded, accepted, refused, entered, cancelled"}
    )
    outcome_label = fields.String()
    refusal_reason = fields.String(allow_none=True, metadata={"description": "the bureau's code"})
    refusal_note = fields.String(allow_none=True, metadata={"description": "the bureau's words"})
    tax_receipt_no = fields.String(allow_none=True)
    entered_at = fields.DateTime(allow_none=True)
    recorded_by = fields.String()
    recorded_at = fields.DateTime()
    registration_status = fields.String()


class CollectorBatchDetailOut(CollectorBatchOut):
    items = fields.List(fields.Nested(CollectorItemOut))


class CollectorBatchQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(_STATUSES))


class CollectedIn(Schema):
    registration_ref = fields.String(load_default=None, validate=validate.Length(1, 24))
    collection_no = fields.String(load_default=None, validate=validate.Length(1, 40))
    grade_yuan = fields.Integer(
        load_default=None,
        validate=validate.Range(1, 100000),
        metadata={"description": "pension only; the lowest grade open to the person if omitted"},
    )

    @validates_schema
    def one_registration(self, data, **_):
        if not data.get("registration_ref") and not data.get("collection_no"):
            raise ValidationError("请给出 registration_ref 或 collection_no。", "registration_ref")


class CollectedOut(Schema):
    batch_no = fields.String()
    collection_no = fields.String()
    scheme = fields.String()
    period_year = fields.Integer()
    grade_yuan = fields.Integer(allow_none=True)
    amount_fen = fields.Integer(metadata={"description": "what the person paid, priced by us"})
    gov_paid_fen = fields.Integer()


class ListUploadIn(Schema):
    file = Upload(
        required=True,
        error_messages={"required": "请选择要上传的文件（表单字段 file）"},
        metadata={"description": "the unit's list (.xlsx, or .csv) with 本次收缴 filled in"},
    )


class ListRowOut(Schema):
    line = fields.Integer(metadata={"description": "row of the sheet (the header is 1)"})
    collection_no = fields.String()
    outcome = fields.String(metadata={"description": "recorded, unchanged or rejected"})
    reason = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    grade_yuan = fields.Integer(allow_none=True)
    amount_fen = fields.Integer(allow_none=True)


class ListUploadOut(Schema):
    batch_no = fields.String()
    rows_read = fields.Integer()
    skipped = fields.Integer(metadata={"description": "rows with 本次收缴 left blank"})
    recorded = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    rows = fields.List(fields.Nested(ListRowOut))


class CollectorListQuery(Schema):
    scheme = fields.String(required=True, validate=_SCHEME)
    period_year = fields.Integer(required=True, validate=validate.Range(2000, 2100))


def _detail(batch_no: str) -> dict:
    with unit_of_work() as session:
        return views.batch_view(session, current_staff(), batch_no)


@blp.route("")
class Batches(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(201, CollectorBatchDetailOut)
    @blp.alt_response(
        200, schema=CollectorBatchDetailOut, description="the unit's batch was open already"
    )
    @staff_required("collect")
    def post(self):
        """Open the collector's batch (its unit's one open batch, if there is one already)."""
        batch_no, made = recording.open_batch(unit_of_work(), current_staff())
        return _detail(batch_no), 201 if made else 200

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(CollectorBatchQuery, location="query")
    @blp.response(200, CollectorBatchOut(many=True))
    @blp.paginate()
    @staff_required("view", "collect")
    def get(self, args, pagination_parameters):
        """The batches the caller may see, newest first: a collector its unit's, other staff
        those of units inside their region."""
        staff = current_staff()
        with unit_of_work() as session:
            found = page_of(session, views.listed(staff, **args), pagination_parameters)
            return [views.summary(session, batch, unit) for batch, unit in found]


@blp.route("/<batch_no>")
class Batch(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, CollectorBatchDetailOut)
    @blp.alt_response(404, description="no such batch the caller may see")
    @staff_required("view", "collect")
    def get(self, batch_no):
        """A batch with its items (names and ID numbers masked), the bureau's refusals and the
        receipt numbers of the entered."""
        return _detail(batch_no)


@blp.route("/<batch_no>/items")
class Items(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(CollectedIn)
    @blp.response(201, CollectedOut)
    @blp.alt_response(404, description="no such registration in the unit's scope, or batch")
    @blp.alt_response(
        409,
        description="paid, in a WeChat order, in another batch or this one; the batch is closed",
    )
    @blp.alt_response(422, description="not payable (grade, window, government pays in full)")
    @staff_required("collect")
    def post(self, args, batch_no):
        """Record that the person paid the unit: priced by the fee engine and held, so nobody
        can pay it in WeChat meanwhile."""
        collected = recording.Collected(**args)
        return recording.add(unit_of_work(), policy_book(), current_staff(), batch_no, collected)


@blp.route("/<batch_no>/items/<collection_no>")
class Item(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(204)
    @blp.alt_response(404, description="not in this batch")
    @blp.alt_response(409, description="the batch is no longer open")
    @staff_required("collect")
    def delete(self, batch_no, collection_no):
        """Take a registration out of the open batch (recorded by mistake): it is unpaid again."""
        recording.remove(unit_of_work(), current_staff(), batch_no, collection_no)


@blp.route("/<batch_no>/upload")
class ListUpload(MethodView):
    @staff_required("collect")
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(ListUploadIn, location="files")
    @blp.response(200, ListUploadOut)
    @blp.alt_response(422, description="the file cannot be read; nothing was recorded")
    def post(self, files, batch_no):
        """Upload the unit's list with 本次收缴 filled in ("是", or the pension grade in yuan):
        each marked row is recorded or rejected whole, with its reason; blank rows are skipped;
        uploading it again records nothing new."""
        sent = files["file"]
        report = upload.upload(
            unit_of_work(),
            policy_book(),
            current_staff(),
            batch_no,
            sent.stream,
            sent.filename or "upload.xlsx",
        )
        return {
            "batch_no": report.batch_no,
            "rows_read": report.rows_read,
            "skipped": report.skipped,
            "recorded": report.count("recorded"),
            "unchanged": report.count("unchanged"),
            "rejected": report.count("rejected"),
            "rows": [vars(r) for r in report.results],
        }


@blp.route("/<batch_no>/close")
class Close(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, CollectorBatchDetailOut)
    @blp.alt_response(404, description="no such batch in the caller's region")
    @blp.alt_response(409, description="the batch was cancelled")
    @blp.alt_response(422, description="the batch is empty, or holds another department's scheme")
    @staff_required("import")
    def post(self, batch_no):
        """Close the batch: its summary serial (单据号), total and counts per scheme are made, and
        the worker declares it to the bureau. Closing again changes nothing."""
        closing.close(unit_of_work(), current_staff(), batch_no)
        return _detail(batch_no)


@blp.route("/<batch_no>/cancel")
class Cancel(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, CollectorBatchDetailOut)
    @blp.alt_response(404, description="no such batch in the caller's region")
    @blp.alt_response(409, description="declared already, or being declared now")
    @staff_required("import")
    def post(self, batch_no):
        """Cancel the batch before its declaration: its registrations are unpaid again."""
        closing.cancel(unit_of_work(), current_staff(), batch_no)
        return _detail(batch_no)


@lists.route("")
@lists.doc(
    security=STAFF_SECURITY,
    responses={"200": {"content": {MIMETYPES["xlsx"]: {"schema": {"type": "string"}}}}},
)
@lists.arguments(CollectorListQuery, location="query")
@staff_required("collect")
def collector_list(args):
    """The unit's list: every registration of the scheme and year in its village or township,
    with the full name, the ID number's first 6 and last 4, household number, amount due (pension:
    the grades and what each costs the person), status and an empty 本次收缴 column to fill in."""
    with unit_of_work() as session:
        listed = roster.for_staff(session, policy_book(), current_staff(), **args)
    name = f"collector-list-{listed.region_code}-{args['scheme']}-{args['period_year']}.xlsx"
    return Response(
        roster.xlsx(listed),
        mimetype=MIMETYPES["xlsx"],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


class EntryIn(Schema):
    collection_no = fields.String(required=True, validate=validate.Length(1, 40))
    tax_receipt_no = fields.String(required=True, validate=validate.Length(1, 32))
    entered_at = fields.AwareDateTime(required=True)


class DeclarationEntriesIn(Schema):
    declaration_no = fields.String(required=True, validate=validate.Length(1, 32))
    entries = fields.List(fields.Nested(EntryIn), required=True, validate=validate.Length(1, 10000))


class DeclarationEntriesOut(Schema):
    status = fields.String(metadata={"description": "recorded | already_recorded"})
    recorded = fields.Integer(metadata={"description": "entries new to us"})
    batch_status = fields.String()


@bureau.route("/declaration-entries", methods=["POST"])
@bureau.doc(
    requestBody={
        "content": {"application/json": {"schema": DeclarationEntriesIn}},
        "description": "signed: X-Timestamp (Unix seconds) and X-Signature over the timestamp, method, path and body (docs/protocol.md)",
    }
)
@bureau.response(200, DeclarationEntriesOut)
@bureau.alt_response(401, description="missing, wrong or stale signature")
@bureau.alt_response(409, description="not declared, or an entry with another receipt number")
@bureau.alt_response(422, description="unknown declaration, or a registration it did not accept")
def declaration_entries():
    """The bureau confirms the treasury entries of a declaration's accepted registrations, with
    their e-tax receipt numbers: each is credited (channel collector) and entered. Idempotent."""
    cfg = current_app.config["APP_CONFIG"]
    body = request.get_data()
    problem = verify(
        cfg.TAX_LEDGER_SECRET,
        request.method,
        request.script_root + request.path,
        request.headers.get("X-Timestamp"),
        request.headers.get("X-Signature"),
        body,
        now=clock().now().timestamp(),
        tolerance=cfg.TAX_TIMESTAMP_TOLERANCE_SECONDS,
    )
    if problem:
        log.warning("declaration entries rejected: %s", problem)
        abort(401, message=f"entries rejected: {problem}")
    try:
        sent = DeclarationEntriesIn().loads(body)
    except (ValidationError, ValueError) as exc:
        abort(422, message="malformed entries", errors={"json": getattr(exc, "messages", str(exc))})
    try:
        done = entries.record_entries(
            unit_of_work(),
            sent["declaration_no"],
            [entries.Entry(**e) for e in sent["entries"]],
            now=clock().now(),
        )
    except DomainError as exc:
        log.warning("declaration entries rejected: %s", exc)
        raise
    with unit_of_work() as session:
        status = views.status_of(session, sent["declaration_no"])
    return {
        "status": "recorded" if done.recorded else "already_recorded",
        "recorded": done.recorded,
        "batch_status": status,
    }
