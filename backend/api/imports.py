"""Staff API: upload an agency file (registrations, special groups, students) and get the report.

`POST /api/staff/v1/imports/{kind}` with a multipart field `file` (.csv in UTF-8, or .xlsx). The
staff member may only write inside their own region; rows for other regions are rejected one by
one. A file that cannot be imported at all gives 422 and changes nothing; one above the upload
limit (MAX_CONTENT_LENGTH) gives 413.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from flask_smorest.fields import Upload
from marshmallow import Schema, fields
from werkzeug.exceptions import RequestEntityTooLarge

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.imports import ImportFailed, run_import
from backend.infra.web import clock, policy_book, unit_of_work

blp = Blueprint(
    "imports",
    __name__,
    url_prefix="/api/staff/v1/imports",
    description="Staff: import registrations, special groups and students",
)
BLUEPRINTS = [blp]


class UploadIn(Schema):
    file = Upload(
        required=True,
        error_messages={"required": "请选择要上传的文件（表单字段 file）"},
        metadata={"description": ".csv (UTF-8, header row first) or .xlsx (first sheet)"},
    )


class CountsOut(Schema):
    read = fields.Integer(metadata={"description": "data rows in the file"})
    inserted = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()


class RejectedOut(Schema):
    line = fields.Integer(metadata={"description": "line (CSV) or row (XLSX); the header is 1"})
    code = fields.String(metadata={"example": "id_check_char"})
    reason = fields.String(metadata={"example": "身份证号校验位不正确，请核对号码"})
    id_number_masked = fields.String(metadata={"example": "410721********123X"})


class ReportOut(Schema):
    kind = fields.String()
    file_name = fields.String()
    counts = fields.Nested(CountsOut)
    rejected = fields.List(fields.Nested(RejectedOut))
    rejected_truncated = fields.Boolean(
        metadata={"description": "true when only the first rejected rows are listed"}
    )
    warnings = fields.List(fields.String())


@blp.route("/<any(registrations, groups, students):kind>")
class Import(MethodView):
    # staff_required runs first, so an anonymous upload is refused before its body is read.
    @staff_required("import")
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(UploadIn, location="files")
    @blp.response(200, ReportOut)
    @blp.alt_response(413, description="the file is larger than the upload limit")
    @blp.alt_response(422, description="the file cannot be imported; nothing was changed")
    @blp.alt_response(409, description="another import changed the same rows meanwhile; retry")
    def post(self, files, kind):
        """Import a file: valid rows are applied, the others reported with line and reason.

        kind: `registrations` (collection_no, id_number, name, scheme, period_year,
        village_code, household_no, phone), `groups` (id_number, name, group, year, source) or
        `students` (the registrations columns plus school_code, study_years_left).
        Importing the same file again changes nothing.
        """
        staff = current_staff()
        upload = files["file"]
        try:
            report = run_import(
                unit_of_work(),
                kind,
                upload.stream,
                file_name=upload.filename or "upload",
                actor=staff.name,
                scope_code=staff.region_code,
                policies=policy_book(),
                now=clock().now(),
            )
        except ImportFailed as failure:
            abort(
                409 if failure.code == "concurrent_change" else 422,
                message=f"文件无法导入，未写入任何数据：{failure}",
                errors={"file": failure.as_dict()},
            )
        return report.as_dict()


@blp.errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge):
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    size = f"{limit / 2**20:.0f} MB" if limit >= 2**20 else f"{limit / 2**10:.0f} KB"
    body = {
        "code": 413,
        "status": "Request Entity Too Large",
        "message": f"文件超过上传上限（{size}），请拆分后分批导入",
    }
    return body, 413
