"""Liveness/readiness: 200 when the database answers, 503 otherwise."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    try:
        with current_app.extensions["db_engine"].connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means not ready
        return jsonify(status="unavailable", database=exc.__class__.__name__), 503
    return jsonify(status="ok", database="ok")
