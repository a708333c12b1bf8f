"""Staff (school): a school's students, and the batches that pay their medical contributions for
one or more study years with one WeChat QR code; refunds of a student's unused years."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.api.orders import qr_png
from backend.api.pagination import page_of
from backend.infra.web import clock, payment_gateway, policy_book, unit_of_work
from backend.models.registrations import STATUSES
from backend.refunds import service as refund_service
from backend.schools import batches, refunds, students, views

blp = Blueprint(
    "schools",
    __name__,
    url_prefix="/api/staff/v1",
    description="Staff (school): students' medical contributions paid for whole study years",
)
BLUEPRINTS = [blp]


class SchoolStudentQuery(Schema):
    period_year = fields.Integer(load_default=None, validate=validate.Range(2000, 2100))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class SchoolStudentOut(Schema):
    student_ref = fields.String(metadata={"description": "the registration a batch pays from"})
    collection_no = fields.String()
    period_year = fields.Integer()
    study_years_left = fields.Integer(allow_none=True)
    years_open = fields.Integer(
        allow_none=True,
        metadata={
            "description": "how many years a batch may pay from this registration: the "
            "remaining study years, at most the policy's maximum (null: no policy for its year)"
        },
    )
    status = fields.String()
    paid_channel = fields.String(allow_none=True)
    village_code = fields.String()
    name_masked = fields.String()
    id_number_masked = fields.String()


class SchoolStudentIn(Schema):
    student_ref = fields.String(required=True, validate=validate.Length(1, 24))
    years = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "study years to pay from the registration's year on"},
    )


class SchoolBatchIn(Schema):
    students = fields.List(
        fields.Nested(SchoolStudentIn),
        required=True,
        validate=validate.Length(1, batches.MAX_STUDENTS),
    )


class SchoolBatchIdempotencyHeader(Schema):
    idempotency_key = fields.String(
        required=True,
        data_key="Idempotency-Key",
        validate=validate.Length(8, 64),
        metadata={"description": "a fresh random value per batch; the same one to retry"},
    )


class SchoolRefundIdempotencyHeader(Schema):
    idempotency_key = fields.String(
        load_default=None,
        data_key="Idempotency-Key",
        validate=validate.Length(8, 64 - refunds.KEY_SUFFIX),
        metadata={"description": "the same key again returns the refunds it made"},
    )


class SchoolYearOut(Schema):
    period_year = fields.Integer()
    registration_ref = fields.String()
    collection_no = fields.String()
    amount_fen = fields.Integer()
    gov_paid_fen = fields.Integer()
    registration_status = fields.String(
        metadata={"description": "unpaid | pending | paid | treasury_entered"}
    )
    ledger_state = fields.String(
        metadata={"description": "none | pending | delivered | dead | treasury_entered"}
    )
    tax_receipt_no = fields.String(allow_none=True)
    refunded_fen = fields.Integer()
    refund_status = fields.String(
        allow_none=True, metadata={"description": "the year's latest refund, if any"}
    )


class SchoolBatchStudentOut(Schema):
    student_ref = fields.String()
    name_masked = fields.String()
    id_number_masked = fields.String()
    village_code = fields.String()
    total_fen = fields.Integer()
    years = fields.List(fields.Nested(SchoolYearOut))


class SchoolBatchOut(Schema):
    batch_no = fields.String(metadata={"example": "XB20191120090000123456789"})
    school_code = fields.String()
    county_code = fields.String()
    status = fields.String(
        metadata={"description": "awaiting_payment | paid | expired | refund_due | refunded"}
    )
    status_reason = fields.String(allow_none=True)
    order_no = fields.String(metadata={"description": "the WeChat order (out_trade_no)"})
    total_fen = fields.Integer()
    student_count = fields.Integer()
    year_count = fields.Integer(metadata={"description": "registrations paid: students x years"})
    code_url = fields.String(
        allow_none=True, metadata={"description": "while awaiting payment: what the QR code holds"}
    )
    qr_png_url = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()
    paid_at = fields.AwareDateTime(allow_none=True)
    transaction_id = fields.String(allow_none=True)


class SchoolBatchDetailOut(SchoolBatchOut):
    students = fields.List(fields.Nested(SchoolBatchStudentOut))


class SchoolYearsRefundIn(Schema):
    student_ref = fields.String(
        required=True,
        validate=validate.Length(1, 24),
        metadata={"description": "the student (any of their registrations in the batch)"},
    )
    from_year = fields.Integer(
        required=True,
        validate=validate.Range(2000, 2100),
        metadata={"description": "the first year the student will not study: it and later"},
    )
    note = fields.String(load_default=None, validate=validate.Length(max=255))


class SchoolYearRefundOut(Schema):
    refund_no = fields.String()
    registration_ref = fields.String()
    period_year = fields.Integer()
    amount_fen = fields.Integer()
    status = fields.String(metadata={"description": "requested | processing | succeeded | failed"})


class SchoolYearsRefundOut(Schema):
    batch_no = fields.String()
    refunds = fields.List(fields.Nested(SchoolYearRefundOut))


def _summary(row, now) -> dict:
    answer = views.summary(row, now)
    answer["qr_png_url"] = (
        url_for("schools.qrcode_png", batch_no=answer["batch_no"]) if answer["code_url"] else None
    )
    return answer


def _detail(batch_no: str) -> dict:
    now = clock().now()
    with unit_of_work() as session:
        answer = views.batch_view(session, current_staff(), batch_no, now)
    answer["qr_png_url"] = (
        url_for("schools.qrcode_png", batch_no=batch_no) if answer["code_url"] else None
    )
    return answer


@blp.route("/school-students")
class Students(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(SchoolStudentQuery, location="query")
    @blp.response(200, SchoolStudentOut(many=True))
    @blp.paginate()
    @staff_required("school")
    def get(self, args, pagination_parameters):
        """The school's students: its medical registrations, in the account's region.

        Each says from which registration (student_ref) a batch may pay and for how many years.
        """
        query = students.of_school(current_staff(), **args)
        book = policy_book()
        with unit_of_work() as session:
            rows = page_of(session, query, pagination_parameters)
            return [students.student_view(book, *row) for row in rows]


@blp.route("/school-batches")
class Batches(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(SchoolBatchIdempotencyHeader, location="headers")
    @blp.arguments(SchoolBatchIn)
    @blp.response(201, SchoolBatchDetailOut)
    @blp.alt_response(404, description="a student who is not the school's")
    @blp.alt_response(409, description="a year already paid or in another order")
    @blp.alt_response(
        422,
        description="more years than the student has left or the policy allows, outside the "
        "collection window, or the key was reused",
    )
    @blp.alt_response(503, description="WeChat Pay could not be reached")
    @staff_required("school")
    def post(self, headers, body):
        """Make a batch: each student for `years` study years, paid with one WeChat QR code.

        Every year costs the current year's individual share. Years after the registration's
        are registered (collection serial `<serial>-Y<year>`) and sent to the tax bureau. The
        same Idempotency-Key and students return the same batch.
        """
        cfg = current_app.config["APP_CONFIG"]
        batch_no, replayed = batches.create_batch(
            unit_of_work(),
            payment_gateway(),
            policy_book(),
            current_staff(),
            batches.BatchAsk(
                idempotency_key=headers["idempotency_key"],
                students=tuple(
                    batches.StudentAsk(s["student_ref"], s["years"]) for s in body["students"]
                ),
                client_ip=cfg.SERVER_IP,
            ),
            now=clock().now(),
            ttl=timedelta(seconds=cfg.ORDER_TTL_SECONDS),
            check_after=timedelta(seconds=cfg.ORDER_CHECK_AFTER_SECONDS),
        )
        return _detail(batch_no), 201, {"Idempotent-Replayed": "true" if replayed else "false"}

    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, SchoolBatchOut(many=True))
    @blp.paginate()
    @staff_required("school", "view")
    def get(self, pagination_parameters):
        """The batches the caller sees, newest first: a school its own, other staff those of
        their region."""
        now = clock().now()
        with unit_of_work() as session:
            rows = page_of(session, views.listed(current_staff()), pagination_parameters)
            return [_summary(row, now) for row in rows]


@blp.route("/school-batches/<batch_no>")
class Batch(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, SchoolBatchDetailOut)
    @blp.alt_response(404, description="no such batch for the caller")
    @staff_required("school", "view")
    def get(self, batch_no):
        """A batch: its status (with the code_url while awaiting payment) and, per student, each
        year's amount, ledger state and tax receipt number, and refunds."""
        return _detail(batch_no)


@blp.route("/school-batches/<batch_no>/qrcode.png")
@blp.doc(security=STAFF_SECURITY)
@blp.response(200, description="PNG of the batch's code_url, for the school to scan and pay")
@blp.alt_response(404, description="no batch awaiting payment for the caller")
@staff_required("school", "view")
def qrcode_png(batch_no):
    answer = _detail(batch_no)
    if not answer["code_url"]:
        abort(404, message="该批次没有可扫码支付的二维码（已支付或已过期）。")
    return qr_png(answer["code_url"])


@blp.route("/school-batches/<batch_no>/refunds")
class YearsRefund(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(SchoolRefundIdempotencyHeader, location="headers")
    @blp.arguments(SchoolYearsRefundIn)
    @blp.response(201, SchoolYearsRefundOut)
    @blp.alt_response(404, description="no such batch for the caller, or no such student in it")
    @blp.alt_response(
        409, description="not paid, those years given back already, or a refund in progress"
    )
    @blp.alt_response(422, description="the key was reused for another request")
    @staff_required("school", "recon")
    def post(self, headers, body, batch_no):
        """Give back a student's unused years: `from_year` and every later year of the batch.

        For the school (its own batches) and reconciliation staff (their region's). One refund
        per year, in full; each reverses its tax bureau entry once WeChat has given the money
        back. The student's earlier years and the other students stay paid.
        """
        staff = current_staff()
        cfg = current_app.config["APP_CONFIG"]
        now = clock().now()
        numbers, replayed = refunds.refund_unused_years(
            unit_of_work(),
            staff,
            refunds.YearsRefundAsk(
                batch_no=batch_no,
                student_ref=body["student_ref"],
                from_year=body["from_year"],
                note=body["note"],
                idempotency_key=headers["idempotency_key"],
            ),
            now=now,
        )
        if not replayed:  # one WeChat cannot take now stays requested: the worker resends it
            for refund_no in numbers:
                refund_service.submit(
                    unit_of_work(),
                    payment_gateway(),
                    refund_no,
                    now=now,
                    check_after=timedelta(seconds=cfg.REFUND_CHECK_AFTER_SECONDS),
                )
        with unit_of_work() as session:
            made = refunds.refund_views(session, numbers)
        answer = {"batch_no": batch_no, "refunds": made}
        return answer, 201, {"Idempotent-Replayed": "true" if replayed else "false"}
