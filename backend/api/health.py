"""Operational endpoints: health (200 when the database answers, 503 otherwise), docs assets."""

from __future__ import annotations

import swagger_ui_bundle
from flask import Blueprint, current_app, jsonify, send_from_directory
from sqlalchemy import text

blp = Blueprint("health", __name__)

# Swagger UI's assets are served by us, so /api/docs works on a network without Internet access.
SWAGGER_UI_ASSETS = "/api/docs-assets/"


@blp.get(SWAGGER_UI_ASSETS + "<path:filename>")
def swagger_ui_asset(filename: str):
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)


@blp.get("/healthz")
def healthz():
    try:
        with current_app.extensions["db_engine"].connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means not ready
        return jsonify(status="unavailable", database=exc.__class__.__name__), 503
    return jsonify(status="ok", database="ok")
