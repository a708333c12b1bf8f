"""The application under benchmark, plus a trivial flask-smorest endpoint used as the baseline.

The baseline runs in the same app, under the same gunicorn settings, so the ratio lookup/baseline
measures what the lookup itself costs (database, fee engine, masking) and nothing else.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from backend import create_app

blp = Blueprint("bench", __name__, url_prefix="/bench", description="benchmark baseline")


class EchoIn(Schema):
    id_number = fields.String(required=True)
    name = fields.String(required=True)


class EchoOut(Schema):
    ok = fields.Boolean()
    name = fields.String()


@blp.route("/echo")
class Echo(MethodView):
    @blp.arguments(EchoIn)
    @blp.response(200, EchoOut)
    def post(self, body):
        """Validate a body shaped like a lookup and serialize a small answer: no database."""
        return {"ok": True, "name": body["name"][:1]}


def create_bench_app():
    app = create_app()
    app.extensions["smorest_api"].register_blueprint(blp)
    return app
