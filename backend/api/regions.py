"""GET /api/mp/v1/regions: the region tree, one level at a time, for picking a village."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from backend.infra.web import unit_of_work
from backend.models import Region
from backend.values import region_codes as regions

blp = Blueprint(
    "regions", __name__, url_prefix="/api/mp/v1/regions", description="Administrative regions"
)
BLUEPRINTS = [blp]


class RegionQuery(Schema):
    parent = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\d{12}$", error="parent must be a 12-digit region code"),
        metadata={"description": "12-digit code; omitted: the counties of the city"},
    )


class RegionOut(Schema):
    code = fields.String(metadata={"example": "410721100201"})
    name = fields.String(metadata={"example": "大召营村"})
    level = fields.String(metadata={"example": "village"})


@blp.route("")
class Regions(MethodView):
    @blp.arguments(RegionQuery, location="query")
    @blp.response(200, RegionOut(many=True))
    def get(self, args):
        """Children of a region (the counties of the city when no parent is given)."""
        parent = args["parent"] or regions.normalise(current_app.config["CITY_CODE"])
        with unit_of_work() as session:
            if session.get(Region, parent) is None:
                abort(404, message=f"no region with code {parent}")
            return session.scalars(
                select(Region).where(Region.parent_code == parent).order_by(Region.code)
            ).all()
