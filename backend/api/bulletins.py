"""Staff: progress bulletins (通报) — list, download as XLSX or PDF, make one now.

A bulletin belongs to the region it ranks (the city); staff read those of their region and
those ranking it (a county reads the city's), of their department's scheme only (人社 pension,
医保 medical); any other is answered 404 as if it did not exist (backend.bulletins.service).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.api.pagination import page_of
from backend.api.paths import ROW_ID
from backend.bulletins import service
from backend.infra.web import clock, policy_book, unit_of_work
from backend.models.staff import DEPARTMENT_LABELS
from backend.posters.fonts import FontMissing
from backend.posters.service import typeface_of
from backend.values import region_codes as regions
from backend.values.beijing import beijing_today
from backend.values.labels import SCHEME_SHORT

blp = Blueprint(
    "bulletins",
    __name__,
    url_prefix="/api/staff/v1/bulletins",
    description="Staff: progress bulletins (通报), ranked, as XLSX and PDF",
)
BLUEPRINTS = [blp]

MIMETYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
SCHEME = validate.OneOf(service.SCHEMES)


class BulletinQuery(Schema):
    scheme = fields.String(load_default=None, validate=SCHEME)


class MakeBulletin(Schema):
    scheme = fields.String(required=True, validate=SCHEME)
    date = fields.Date(
        load_default=None,
        metadata={"description": "the Beijing day the figures stand at; omitted: yesterday"},
    )
    region = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\d{4}(\d{2})?(0{6})?$"),
        metadata={"description": "the city (default) or a county", "example": "4107"},
    )


class BulletinOut(Schema):
    id = fields.Integer()
    region_code = fields.String(metadata={"example": "410700000000"})
    scheme = fields.String()
    period_year = fields.Integer()
    as_of = fields.Date()
    summary = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    xlsx_url = fields.String()
    pdf_url = fields.String()


def _out(row) -> dict:
    return {
        **row._asdict(),
        "xlsx_url": f"{blp.url_prefix}/{row.id}.xlsx",
        "pdf_url": f"{blp.url_prefix}/{row.id}.pdf",
    }


@blp.route("")
class Bulletins(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BulletinQuery, location="query")
    @blp.response(200, BulletinOut(many=True))
    @blp.paginate()
    @staff_required("view")
    def get(self, args, pagination_parameters):
        """The bulletins the caller may read, newest first."""
        query = service.listed(current_staff(), scheme=args["scheme"])
        with unit_of_work() as session:
            return [_out(row) for row in page_of(session, query, pagination_parameters)]

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(MakeBulletin)
    @blp.response(201, BulletinOut)
    @blp.alt_response(403, description="the caller's role or department does not make it")
    @blp.alt_response(404, description="unknown region, outside the caller's region, no policy")
    @blp.alt_response(422, description="a day after today, or not a city or county")
    @blp.alt_response(503, description="the fonts are not installed on the server")
    @staff_required("import")
    def post(self, args):
        """Make the bulletin as of a day now (agency, admin), replacing one of the same day.

        The progress journal is rolled first, so the figures include everything recorded.
        """
        staff = current_staff()
        cfg = current_app.config["APP_CONFIG"]
        code = regions.normalise(args["region"] or cfg.CITY_CODE)
        if not staff.sees(code):
            abort(404, message="该地区不在您的管辖范围内。")
        if not staff.handles(args["scheme"]):
            abort(
                403,
                message=f"{DEPARTMENT_LABELS[staff.department]}部门不负责"
                f"{SCHEME_SHORT[args['scheme']]}的通报。",
            )
        try:
            typeface = typeface_of(cfg)
        except FontMissing as exc:
            current_app.logger.error("%s", exc)
            abort(503, message=exc.chinese)
        day = args["date"] or beijing_today(clock().now()) - timedelta(days=1)
        made = service.make(
            unit_of_work(),
            policy_book(),
            typeface,
            region_code=code,
            scheme=args["scheme"],
            day=day,
            actor=staff.name,
        )
        with unit_of_work() as session:
            row = service.listed_one(session, staff, made.id)
        return _out(row)


@blp.route(f"/<{ROW_ID}:bulletin_id>.<any(xlsx, pdf):kind>")
class BulletinFile(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, description="the XLSX workbook or the one-page PDF")
    @blp.alt_response(404, description="no such bulletin, or not the caller's to read")
    @staff_required("view")
    def get(self, bulletin_id: int, kind: str):
        """One bulletin's file: XLSX (ranking, townships per county, lagging villages) or PDF."""
        with unit_of_work() as session:
            data, name = service.file_of(session, current_staff(), bulletin_id, kind)
        return Response(
            data,
            mimetype=MIMETYPES[kind],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
