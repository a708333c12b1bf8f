"""Staff (any role): village QR posters of a county, township or village, as PDF or PNG."""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.infra.web import policy_book, unit_of_work
from backend.posters import service
from backend.posters.fonts import FontMissing
from backend.values import region_codes as regions

blp = Blueprint(
    "posters", __name__, url_prefix="/api/staff/v1/posters", description="Staff: village QR posters"
)
BLUEPRINTS = [blp]

MIMETYPES = {"pdf": "application/pdf", "png": "image/png", "zip": "application/zip"}


class PosterQuery(Schema):
    region = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^\d{6}(\d{3}){0,2}$",
            error="region must be a county (6 digits), township (9) or village (12 digits) code",
        ),
        metadata={"description": "county, township or village code", "example": "410721"},
    )
    format = fields.String(
        load_default="pdf",
        validate=validate.OneOf(("pdf", "png")),
        metadata={
            "description": "pdf: one A4 page per village; png: one image per village, "
            "a ZIP of them when the region has several villages"
        },
    )
    year = fields.Integer(
        load_default=None, metadata={"description": "collection year; default the latest"}
    )


@blp.route("")
class Posters(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(PosterQuery, location="query")
    @blp.response(
        200,
        description="application/pdf, image/png (one village) or application/zip (PNG images)",
    )
    @blp.alt_response(404, description="unknown region, outside the caller's region, or no policy")
    @blp.alt_response(422, description="not a county, township or village code")
    @blp.alt_response(503, description="the poster fonts are not installed on the server")
    @staff_required("view")
    def get(self, args):
        """Village QR posters to print: one A4 page (or PNG image) per village.

        Each shows the village's full name, a QR code of `/q/{village_code}` (the mini-program
        with the village chosen), both schemes with their period years, amounts and deadlines,
        the collection window and how to pay. Staff of any role, inside their region.
        """
        code = regions.normalise(args["region"])
        if not current_staff().sees(code):
            abort(404, message="该地区不在您的管辖范围内。")
        cfg = current_app.config["APP_CONFIG"]
        try:
            typeface = service.typeface_of(cfg)
        except FontMissing as exc:
            current_app.logger.error("%s", exc)
            abort(503, message=exc.chinese)
        with unit_of_work() as session:
            batch = service.batch(
                session,
                policy_book(),
                code,
                public_base_url=cfg.PUBLIC_BASE_URL,
                collection_year=args["year"],
            )
        if args["format"] == "pdf":
            return _file(service.pdf_document(batch, typeface), f"{batch.stem}.pdf")
        if len(batch.posters) == 1:
            (_, image), *_ = service.png_images(batch, typeface)
            return _file(image, f"{batch.stem}.png")
        return _file(service.png_zip(batch, typeface), f"{batch.stem}-png.zip")


def _file(data: bytes, name: str) -> Response:
    return Response(
        data,
        mimetype=MIMETYPES[name.rsplit(".", 1)[1]],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
