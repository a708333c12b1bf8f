"""Staff (recon): the daily settlement file of a county and scheme (payments and refunds), CSV or
XLSX."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.auth import STAFF_SECURITY, staff_required
from backend.api.downloads import CountyDayQuery, county_in_scope, spreadsheet
from backend.infra.web import unit_of_work
from backend.recon import settlement

blp = Blueprint(
    "settlement",
    __name__,
    url_prefix="/api/staff/v1/settlement",
    description="Staff: daily settlement files",
)
BLUEPRINTS = [blp]


@blp.route("")
class Settlement(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(CountyDayQuery, location="query")
    @blp.response(
        200, description="CSV (UTF-8 with BOM) or XLSX with payments, refunds and net total lines"
    )
    @blp.alt_response(404, description="the county is outside the caller's region")
    @staff_required("recon")
    def get(self, args):
        """Every payment and refund WeChat completed that day for one county and scheme.

        The day is cut at midnight Beijing time on WeChat's success times. Refunds are negative;
        the closing lines give the payments total, the refunds total and the net.
        """
        county = county_in_scope(args)
        with unit_of_work() as session:
            records = list(
                settlement.rows(session, day=args["date"], county=county, scheme=args["scheme"])
            )
        name = settlement.file_stem(args["date"], county, args["scheme"])
        return spreadsheet(settlement.TABLE, records, name, args["format"])
