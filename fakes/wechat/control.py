"""Control endpoints for tests and demos: health, reset and fault switches."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

blp = Blueprint("control", __name__, url_prefix="/_control")

KNOWN_FAULTS = {"login_busy"}


@blp.get("/health")
def health():
    return jsonify(status="ok")


@blp.post("/reset")
def reset():
    current_app.extensions["fake_wechat"].reset()
    return jsonify(status="reset")


@blp.post("/faults")
def faults():
    """`{"login_busy": true}` makes jscode2session answer errcode -1 until switched off."""
    body = request.get_json(silent=True) or {}
    unknown = set(body) - KNOWN_FAULTS
    if unknown:
        return jsonify(error=f"unknown faults: {sorted(unknown)}", known=sorted(KNOWN_FAULTS)), 400
    state = current_app.extensions["fake_wechat"]
    with state.lock:
        state.faults.update({k: bool(v) for k, v in body.items()})
        current = dict(state.faults)
    return jsonify(faults=current)
