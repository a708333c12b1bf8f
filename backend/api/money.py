"""Staff (recon, whole city): the money watch's results (backend/money/watch.py), per day and
in total. The money is the merchant account's, not a county's: only city accounts see it."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields
from sqlalchemy import select

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.infra.web import unit_of_work
from backend.models import MoneyCheck
from backend.money.watch import total_of

blp = Blueprint(
    "money_checks",
    __name__,
    url_prefix="/api/staff/v1/money-checks",
    description="Staff: the money watch (WeChat's money against credits, refunds, discrepancies)",
)
BLUEPRINTS = [blp]
CITY_DIGITS = 4
DAYS_SHOWN = 90


class MoneyFiguresOut(Schema):
    took = fields.Integer(metadata={"description": "fen WeChat took (its bill, else our trades)"})
    credited = fields.Integer(metadata={"description": "fen credited (payment less reversal)"})
    refunded = fields.Integer(metadata={"description": "fen given back"})
    in_discrepancies = fields.Integer(metadata={"description": "fen in open discrepancies"})
    difference = fields.Integer(metadata={"description": "took - the three others; 0 when ok"})
    ledger_mismatches = fields.Integer(
        metadata={"description": "order items without exactly one payment message"}
    )
    ok = fields.Boolean()


class MoneyDayOut(MoneyFiguresOut):
    day = fields.Date(metadata={"description": "Beijing day WeChat took the money"})
    source = fields.String(metadata={"description": "bill (WeChat's bill) | ours (no bill yet)"})
    checked_at = fields.AwareDateTime()


class MoneyTotalOut(MoneyFiguresOut):
    days = fields.Integer()
    broken_days = fields.Integer()


class MoneyChecksOut(Schema):
    total = fields.Nested(MoneyTotalOut)
    days = fields.List(fields.Nested(MoneyDayOut), metadata={"description": "newest first"})
    broken = fields.List(fields.Nested(MoneyDayOut), metadata={"description": "every broken day"})


@blp.route("")
class MoneyChecks(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, MoneyChecksOut)
    @blp.alt_response(403, description="not a city account")
    @staff_required("recon")
    def get(self):
        """The money watch: the last 90 days checked, every broken day, and the total.

        A day is ok when the money WeChat took equals the money credited plus refunded plus held
        in open discrepancies, to the fen, and every credited registration has one payment
        message. The worker checks every 10 minutes; `flask check-money` checks at once.
        """
        if len(current_staff().scope_prefix) > CITY_DIGITS:
            abort(403, message="资金核对面向全市账户，县级及以下账户无权查看。")
        with unit_of_work() as session:
            days = session.scalars(
                select(MoneyCheck).order_by(MoneyCheck.day.desc()).limit(DAYS_SHOWN)
            ).all()
            broken = session.scalars(
                select(MoneyCheck).where(MoneyCheck.ok.is_(False)).order_by(MoneyCheck.day.desc())
            ).all()
            total = total_of(session)
            return {
                "total": {**vars(total), "difference": total.difference, "ok": total.ok},
                "days": list(days),
                "broken": list(broken),
            }
