"""What the staff file downloads share: the day/county/scheme query, the region check, the file."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import abort
from marshmallow import Schema, fields, validate

from backend.api.auth import current_staff
from backend.infra.spreadsheets import Table

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class CountyDayQuery(Schema):
    date = fields.Date(required=True, metadata={"description": "a Beijing date"})
    county = fields.String(
        required=True, validate=validate.Regexp(r"^\d{6}(\d{6})?$"), metadata={"example": "410721"}
    )
    scheme = fields.String(required=True, validate=validate.OneOf(("pension", "medical")))
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


def county_in_scope(args: dict[str, Any]) -> str:
    """The 6-digit county asked for; 404 when it lies outside the caller's region."""
    county = args["county"][:6]
    if not current_staff().sees(county.ljust(12, "0")):
        abort(404, message="该区县不在您的管辖范围内。")
    return county


def spreadsheet(table: Table, records: list[dict[str, Any]], name: str, fmt: str) -> Response:
    """`name` without extension; CSV with BOM or XLSX, as an attachment."""
    data = table.xlsx(records, title=name) if fmt == "xlsx" else table.csv(records)
    return Response(
        data,
        mimetype=MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )
