"""Staff (recon): run the reconciliation of a day against WeChat's bill (pulling the bill first
when it is not stored yet) and see where the day stands."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields
from sqlalchemy import func, select

from backend.api.auth import STAFF_SECURITY, city_wide_staff, current_staff, staff_required
from backend.infra.web import clock, payment_gateway, unit_of_work
from backend.models import ReconDiscrepancy, WeChatBill
from backend.recon.discrepancies import visible
from backend.recon.our_records import day_by_channel
from backend.recon.pull import pull_bill
from backend.recon.reconcile import reconcile_day
from backend.values.beijing import beijing_today
from backend.values.labels import CHANNEL_NAMES
from backend.values.region_codes import normalise

blp = Blueprint(
    "reconciliations",
    __name__,
    url_prefix="/api/staff/v1/reconciliations",
    description="Staff: reconciliation against WeChat Pay's daily bill",
)
BLUEPRINTS = [blp]


class RunIn(Schema):
    date = fields.Date(required=True, metadata={"description": "the Beijing day of the bill"})
    pull = fields.Boolean(
        load_default=False,
        metadata={"description": "download the bill again even when one is stored"},
    )


class BillOut(Schema):
    status = fields.String(metadata={"description": "ok | empty | invalid"})
    row_count = fields.Integer()
    payment_count = fields.Integer()
    refund_count = fields.Integer()
    settlement_fen = fields.Integer()
    refund_fen = fields.Integer()
    sha256 = fields.String(allow_none=True)


class ChannelOut(Schema):
    channel = fields.String(
        metadata={"description": "wechat_miniprogram, wechat_qr or school", "example": "school"}
    )
    channel_name = fields.String(metadata={"example": "学校代缴"})
    payments = fields.Integer()
    paid_fen = fields.Integer()
    refunds = fields.Integer()
    refund_fen = fields.Integer()


class DayOut(Schema):
    date = fields.Date()
    matched = fields.Integer(
        allow_none=True, metadata={"description": "bill rows that matched (when just run)"}
    )
    bill = fields.Nested(
        BillOut,
        allow_none=True,
        metadata={"description": "the stored bill (the whole city's): city-wide accounts only"},
    )
    discrepancies = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "in your region, by status: open, held, fixed, resolved, cleared"},
    )
    by_channel = fields.List(
        fields.Nested(ChannelOut),
        metadata={
            "description": "our payments and refunds of the day in your region (what the bill"
            " is matched against), by collection channel"
        },
    )


def _counts(session, day) -> dict[str, int]:
    rows = session.execute(
        select(ReconDiscrepancy.status, func.count())
        .where(ReconDiscrepancy.bill_date == day, visible(current_staff().scope_prefix))
        .group_by(ReconDiscrepancy.status)
    )
    return {status: count for status, count in rows}


def _day(day, matched: int | None) -> dict:
    with unit_of_work() as session:
        bill = session.scalar(select(WeChatBill).where(WeChatBill.bill_date == day))
        return {
            "date": day,
            "matched": matched,
            "bill": bill if current_staff().city_wide else None,
            "discrepancies": _counts(session, day),
            "by_channel": [
                {**vars(figures), "channel_name": CHANNEL_NAMES[figures.channel]}
                for figures in day_by_channel(
                    session, day, scope_prefix=current_staff().scope_prefix
                )
            ],
        }


@blp.route("")
class Reconciliations(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(RunIn)
    @blp.response(200, DayOut)
    @blp.alt_response(403, description="not a city-wide account: the bill is the whole city's")
    @blp.alt_response(409, description="the bill is not ready, or could not be read")
    @blp.alt_response(503, description="WeChat Pay could not be reached")
    @staff_required("recon")
    def post(self, body):
        """Reconcile a day: pull its bill when needed, match it, apply the automatic fixes.

        Safe to run again: the result is the same. The discrepancies themselves are listed at
        /api/staff/v1/discrepancies. City-wide accounts only: the bill, its credits and refunds
        are the whole city's.
        """
        staff = city_wide_staff()
        cfg = current_app.config["APP_CONFIG"]
        gateway, day, now = payment_gateway(), body["date"], clock().now()
        with unit_of_work() as session:
            stored = session.scalar(select(WeChatBill.id).where(WeChatBill.bill_date == day))
        if body["pull"] or stored is None:
            pull_bill(
                unit_of_work(),
                gateway,
                day,
                bill_dir=Path(cfg.BILL_DIR),
                now=now,
                actor=f"staff:{staff.name}",
                region_code=normalise(cfg.CITY_CODE),
            )
        report = reconcile_day(
            unit_of_work(),
            gateway,
            day=day,
            today=beijing_today(now),
            now=now,
            refund_check_after=timedelta(seconds=cfg.REFUND_CHECK_AFTER_SECONDS),
        )
        return _day(day, report.matched)


@blp.route("/<date>")
class OneDay(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, DayOut)
    @blp.alt_response(404, description="not a date")
    @staff_required("recon")
    def get(self, date: str):
        """Where a day stands: its stored bill and its discrepancies by status (no new run)."""
        try:
            day = datetime.strptime(date, "%Y-%m-%d").date()
        except ValueError:
            abort(404, message="日期格式应为 YYYY-MM-DD。")
        return _day(day, None)
