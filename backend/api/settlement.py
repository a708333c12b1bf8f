"""Staff (recon): the daily settlement file of a county and scheme, CSV or XLSX."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.recon import settlement
from backend.web import db_session

blp = Blueprint(
    "settlement",
    __name__,
    url_prefix="/api/staff/v1/settlement",
    description="Staff: daily settlement files",
)
BLUEPRINTS = [blp]

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class SettlementQuery(Schema):
    date = fields.Date(required=True, metadata={"description": "Beijing date of payment success"})
    county = fields.String(
        required=True, validate=validate.Regexp(r"^\d{6}(\d{6})?$"), metadata={"example": "410721"}
    )
    scheme = fields.String(required=True, validate=validate.OneOf(("pension", "medical")))
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


@blp.route("")
class Settlement(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(SettlementQuery, location="query")
    @blp.response(200, description="CSV (UTF-8 with BOM) or XLSX with a total line")
    @blp.alt_response(404, description="the county is outside the caller's region")
    @staff_required("recon")
    def get(self, args):
        """Every payment WeChat completed that day for one county and scheme, with totals."""
        county = args["county"][:6]
        if not current_staff().sees(county.ljust(12, "0")):
            abort(404, message="该区县不在您的管辖范围内。")
        records = list(
            settlement.rows(db_session(), day=args["date"], county=county, scheme=args["scheme"])
        )
        name = settlement.file_name(args["date"], county, args["scheme"], args["format"])
        if args["format"] == "xlsx":
            data = settlement.TABLE.xlsx(records, title=name.rsplit(".", 1)[0])
        else:
            data = settlement.TABLE.csv(records)
        return Response(
            data,
            mimetype=MIMETYPES[args["format"]],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
