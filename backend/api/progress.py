"""Staff: the campaign's progress for a region (city, county, township, village) as of a day."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.infra.web import clock, policy_book, reader, unit_of_work
from backend.progress.cache import AnswerCache
from backend.progress.query import RegionFigures, lagging_villages, progress
from backend.values import region_codes as regions
from backend.values.beijing import beijing_today

blp = Blueprint(
    "progress",
    __name__,
    url_prefix="/api/staff/v1/progress",
    description="Staff: collection progress against the deadlines",
)
BLUEPRINTS = [blp]


class ProgressQuery(Schema):
    region = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{4}(\d{2})?(\d{3})?(\d{3})?$"),
        metadata={"description": "4, 6, 9 or 12 digits", "example": "410721"},
    )
    scheme = fields.String(required=True, validate=validate.OneOf(("pension", "medical")))
    period_year = fields.Integer(required=True, validate=validate.Range(2000, 2100))
    date = fields.Date(
        load_default=None, metadata={"description": "a Beijing date; omitted: today"}
    )


class FiguresOut(Schema):
    code = fields.String(metadata={"example": "410721000000"})
    name = fields.String(metadata={"example": "新乡县"})
    level = fields.String(metadata={"example": "county"})
    registered = fields.Integer()
    paid_by_resident = fields.Integer()
    paid_by_channel = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"example": {"wechat_miniprogram": 120, "wechat_qr": 40, "government": 12}},
    )
    paid_by_group = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={
            "description": "by the four ways of paying: wechat (self-service, the mini-program"
            " and the village QR), collector, school, government",
            "example": {"wechat": 160, "collector": 30, "school": 8, "government": 12},
        },
    )
    paid_by_government = fields.Integer()
    paid = fields.Integer(metadata={"description": "by the resident or by the government"})
    outstanding = fields.Integer()
    treasury_entered = fields.Integer()
    paid_fen = fields.Integer(metadata={"description": "what residents paid, in fen"})
    gov_paid_fen = fields.Integer(metadata={"description": "the government's share, in fen"})
    completion_rate = fields.Float(metadata={"description": "paid / registered, 0 to 1"})
    needed_per_day = fields.Integer(
        metadata={"description": "payments a day needed from tomorrow to make the deadline"}
    )


class ChildOut(FiguresOut):
    rank = fields.Integer(metadata={"description": "by completion rate among its siblings"})


class ProgressOut(FiguresOut):
    scheme = fields.String()
    period_year = fields.Integer()
    date = fields.Date()
    rolled_day = fields.Date(
        allow_none=True, metadata={"description": "the day of the rollup the figures come from"}
    )
    rolled_at = fields.DateTime(allow_none=True)
    deadline = fields.Date(metadata={"description": "the next date the campaign is measured at"})
    target_date = fields.Date(metadata={"description": "the scheme's campaign target"})
    window_end = fields.Date(metadata={"description": "the last day anything can be paid"})
    days_left = fields.Integer()
    children = fields.List(fields.Nested(ChildOut))


class LaggingOut(Schema):
    region = fields.String()
    date = fields.Date()
    completion_rate = fields.Float(metadata={"description": "the region's own rate"})
    villages = fields.List(fields.Nested(FiguresOut))


def figures(region: RegionFigures) -> dict:
    counts = region.counts
    return {
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "rank": region.rank,
        "registered": counts.registered,
        "paid_by_resident": counts.paid_by_resident,
        "paid_by_channel": dict(counts.paid_by_channel),
        "paid_by_group": counts.paid_by_group,
        "paid_by_government": counts.paid_by_government,
        "paid": counts.paid,
        "outstanding": counts.outstanding,
        "treasury_entered": counts.entered,
        "paid_fen": counts.paid_fen,
        "gov_paid_fen": counts.gov_paid_fen,
        "completion_rate": counts.completion_rate,
        "needed_per_day": region.needed_per_day,
    }


def _scoped(args) -> tuple[str, object]:
    code = regions.normalise(args["region"])
    if not current_staff().sees(code):
        abort(404, message="该地区不在您的管辖范围内。")
    today = beijing_today(clock().now())
    return code, today


@blp.route("")
class RegionProgress(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(ProgressQuery, location="query")
    @blp.response(200, ProgressOut)
    @blp.alt_response(404, description="unknown region, or outside the caller's region")
    @blp.alt_response(422, description="a day after today")
    @staff_required("view")
    def get(self, args):
        """A region's progress as of a day, with its children ranked by completion rate.

        Figures are cumulative as of the end of the day (today: as of the last rollup, see
        rolled_at; an answer may be PROGRESS_CACHE_SECONDS older than the rollup). `deadline` is the scheme's campaign target until it passes, then the end of
        the collection window; `needed_per_day` is what it takes from tomorrow to make it.
        """
        code, today = _scoped(args)
        day = args["date"] or today
        answer = _answers().get_or_make(
            (code, args["scheme"], args["period_year"], day),
            lambda: _answer(code, args["scheme"], args["period_year"], day, today),
            now=clock().now(),
            keep=timedelta(seconds=current_app.config["APP_CONFIG"].PROGRESS_CACHE_SECONDS),
        )
        return current_app.response_class(answer, mimetype="application/json")


def _answers() -> AnswerCache:
    return current_app.extensions.setdefault("progress_answers", AnswerCache())


def _answer(code: str, scheme: str, period_year: int, day, today) -> bytes:
    """The JSON of a region's progress, built as ProgressOut documents it and sent as is: dumping
    a county's twenty children through the schema cost more than reading them."""
    found = progress(
        reader(),
        region_code=code,
        scheme=scheme,
        period_year=period_year,
        day=day,
        today=today,
        policies=policy_book(),
    )
    region = figures(found.region)
    del region["rank"]
    return current_app.json.dumps(
        {
            **region,
            "scheme": found.scheme,
            "period_year": found.period_year,
            "date": found.day.isoformat(),
            "rolled_day": found.rolled_day.isoformat() if found.rolled_day else None,
            "rolled_at": found.rolled_at.isoformat() if found.rolled_at else None,
            "deadline": found.deadline.deadline.isoformat(),
            "target_date": found.deadline.target.isoformat(),
            "window_end": found.deadline.closes.isoformat(),
            "days_left": found.deadline.days_left,
            "children": [figures(child) for child in found.children],
        }
    ).encode()


@blp.route("/lagging")
class Lagging(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(ProgressQuery, location="query")
    @blp.response(200, LaggingOut)
    @blp.alt_response(404, description="unknown region, or outside the caller's region")
    @staff_required("view")
    def get(self, args):
        """The villages of a region furthest behind it: completion under the region's own rate,
        lowest first (at most 20)."""
        code, today = _scoped(args)
        day = args["date"] or today
        found = progress(
            reader(),
            region_code=code,
            scheme=args["scheme"],
            period_year=args["period_year"],
            day=day,
            today=today,
            policies=policy_book(),
        )
        rate = found.region.counts.completion_rate
        with unit_of_work() as session:
            villages = lagging_villages(
                session,
                region_code=code,
                scheme=args["scheme"],
                period_year=args["period_year"],
                day=day,
                below=rate,
                policies=policy_book(),
            )
        return {
            "region": code,
            "date": day,
            "completion_rate": rate,
            "villages": [figures(v) for v in villages],
        }
