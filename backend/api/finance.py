"""Staff: finance totals (财政配套) of a county, scheme and period_year, as JSON, CSV or XLSX."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.auth import STAFF_SECURITY, staff_required
from backend.api.downloads import county_in_scope, spreadsheet
from backend.errors import NotFound
from backend.fees import PolicyNotFound
from backend.finance import report
from backend.finance.totals import Amounts
from backend.infra.web import policy_book, unit_of_work

blp = Blueprint(
    "finance",
    __name__,
    url_prefix="/api/staff/v1/finance",
    description="Staff: what the government paid, per special group and level of government",
)
BLUEPRINTS = [blp]


class FinanceQuery(Schema):
    county = fields.String(
        required=True, validate=validate.Regexp(r"^\d{6}(\d{6})?$"), metadata={"example": "410721"}
    )
    scheme = fields.String(required=True, validate=validate.OneOf(("pension", "medical")))
    period_year = fields.Integer(required=True, validate=validate.Range(2000, 2100))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "xlsx")))


class AmountsOut(Schema):
    people = fields.Integer(metadata={"description": "paid registrations with government money"})
    gov_paid_fen = fields.Integer(metadata={"description": "代缴 (pension) / 资助 (medical)"})
    contribution_subsidy_fen = fields.Integer(metadata={"description": "缴费补贴, pension"})
    gov_paid_by_level = fields.Dict(keys=fields.String(), values=fields.Integer())
    contribution_subsidy_by_level = fields.Dict(keys=fields.String(), values=fields.Integer())


class GroupOut(AmountsOut):
    group = fields.String(metadata={"description": "a special group, none, or unknown"})
    label = fields.String()


class FinanceOut(Schema):
    county = fields.String()
    scheme = fields.String()
    period_year = fields.Integer()
    shares = fields.Dict(
        metadata={
            "description": "whole percent per level, from the policy file",
            "example": {"gov_paid": {"province": 40, "city": 30, "county": 30}},
        }
    )
    groups = fields.List(fields.Nested(GroupOut))
    total = fields.Nested(AmountsOut)


def _amounts(amounts: Amounts) -> dict:
    return {
        "people": amounts.people,
        "gov_paid_fen": amounts.gov_paid_fen,
        "contribution_subsidy_fen": amounts.contribution_subsidy_fen,
        "gov_paid_by_level": amounts.gov_paid_by_level,
        "contribution_subsidy_by_level": amounts.contribution_subsidy_by_level,
    }


@blp.route("")
class Finance(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(FinanceQuery, location="query")
    @blp.response(200, FinanceOut, description="JSON, or with format=csv|xlsx a spreadsheet")
    @blp.alt_response(404, description="outside the caller's region, or no policy for it")
    @staff_required("view")
    def get(self, args):
        """People subsidised per special group, the government-paid share and the pension
        contribution subsidy in fen, and each split between province, city and county.

        Counts paid registrations: those residents paid (their orders' subsidies) and those
        government batches credited. Splits follow the policy file's [funding] shares, exactly
        (largest remainder): the levels add up to each group's amount, the groups to the total.
        """
        county = county_in_scope(args)
        scheme, year = args["scheme"], args["period_year"]
        try:
            policy = policy_book().scheme_policy(county, scheme, year)
        except PolicyNotFound as exc:
            raise NotFound(f"{county} 没有 {year} 年度的缴费政策。", reason="no_policy") from exc
        with unit_of_work() as session:
            totals = report.county_totals(
                session, policy, county=county, scheme=scheme, period_year=year
            )
        if args["format"] != "json":
            name = report.file_stem(county, scheme, year)
            return spreadsheet(report.TABLE, report.records(policy, totals), name, args["format"])
        funding = policy.funding
        shares = {}
        if funding:
            shares["gov_paid"] = dict(funding.gov_paid)
            if funding.contribution_subsidy:
                shares["contribution_subsidy"] = dict(funding.contribution_subsidy)
        return {
            "county": county,
            "scheme": scheme,
            "period_year": year,
            "shares": shares,
            "groups": [
                {**_amounts(g), "group": g.group, "label": report.group_label(policy, g.group)}
                for g in totals.groups
            ],
            "total": _amounts(totals.total),
        }
