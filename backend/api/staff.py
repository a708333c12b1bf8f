"""Staff API: who am I, registrations in my region, the audit log, the region's staff accounts."""

from __future__ import annotations

from dataclasses import asdict

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from backend.api.auth import STAFF_SECURITY, current_staff, staff_required
from backend.api.pagination import page_of
from backend.api.paths import ROW_ID
from backend.auth import accounts
from backend.infra.web import clock, unit_of_work
from backend.models import AuditEntry, Enrollee, Registration
from backend.models.registrations import SCHEMES, STATUSES
from backend.values import region_codes as regions
from backend.values.masking import mask_id_number, mask_name

blp = Blueprint(
    "staff", __name__, url_prefix="/api/staff/v1", description="Staff: accounts and data"
)
BLUEPRINTS = [blp]


class MeOut(Schema):
    name = fields.String()
    role = fields.String()
    region_code = fields.String()
    department = fields.String(
        allow_none=True, metadata={"description": "hrss (人社, pension), nhsa (医保, medical)"}
    )


class RegistrationQuery(Schema):
    region = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\d{12}$", error="region must be a 12-digit code"),
        metadata={"description": "limit to this region (inside your own scope)"},
    )
    scheme = fields.String(load_default=None, validate=validate.OneOf(SCHEMES))
    period_year = fields.Integer(load_default=None, validate=validate.Range(2000, 2100))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class StaffRegistrationOut(Schema):
    ref = fields.String()
    collection_no = fields.String()
    scheme = fields.String()
    period_year = fields.Integer()
    status = fields.String()
    paid_channel = fields.String(
        allow_none=True,
        metadata={"description": "wechat_miniprogram, wechat_qr or government; null while unpaid"},
    )
    village_code = fields.String()
    name_masked = fields.String()
    id_number_masked = fields.String()
    household_no = fields.String(allow_none=True)


class AuditOut(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    region_code = fields.String(allow_none=True)
    target = fields.String(allow_none=True)
    detail = fields.Dict()


class AccountOut(Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    region_code = fields.String()
    department = fields.String(allow_none=True)
    school_code = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "active, expired or disabled"})
    created_at = fields.DateTime()
    issued_at = fields.DateTime(metadata={"description": "when the current token was issued"})
    expires_at = fields.DateTime(metadata={"description": "when the current token stops working"})
    last_used_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "the current token's last use, to the minute; null: never"},
    )
    disabled_at = fields.DateTime(allow_none=True)


class RotatedOut(AccountOut):
    token = fields.String(
        metadata={"description": "the new token, shown this once; the old one no longer works"}
    )


@blp.route("/me")
class Me(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, MeOut)
    @staff_required("view", "collect", "school")  # every role may ask who it is
    def get(self):
        """The calling staff member: role and region scope."""
        return current_staff()


@blp.route("/registrations")
class Registrations(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(RegistrationQuery, location="query")
    @blp.response(200, StaffRegistrationOut(many=True))
    @blp.paginate()
    @staff_required("view")
    def get(self, args, pagination_parameters):
        """Registrations inside the caller's region (e.g. a village's unpaid list)."""
        staff = current_staff()
        prefix = staff.scope_prefix
        if args["region"]:
            if not staff.sees(args["region"]):
                pagination_parameters.item_count = 0
                return []  # outside the caller's scope nothing is visible, as if it did not exist
            prefix = regions.scope_prefix(args["region"])
        query = (
            select(Registration, Enrollee)
            .join(Enrollee, Enrollee.id == Registration.enrollee_id)
            .where(Registration.village_code.startswith(prefix, autoescape=True))
        )
        for column in ("scheme", "period_year", "status"):
            if args[column] is not None:
                query = query.where(getattr(Registration, column) == args[column])
        with unit_of_work() as session:
            rows = page_of(
                session,
                query.order_by(Registration.village_code, Registration.id),
                pagination_parameters,
            )
        return [
            {
                "ref": reg.ref,
                "collection_no": reg.collection_no,
                "scheme": reg.scheme,
                "period_year": reg.period_year,
                "status": reg.status,
                "paid_channel": reg.paid_channel,
                "village_code": reg.village_code,
                "name_masked": mask_name(person.name),
                "id_number_masked": mask_id_number(person.id_number),
                "household_no": person.household_no,
            }
            for reg, person in rows
        ]


@blp.route("/audit")
class Audit(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AuditOut(many=True))
    @blp.paginate()
    @staff_required("admin")
    def get(self, pagination_parameters):
        """The audit log inside the caller's region, newest first."""
        prefix = current_staff().scope_prefix
        query = select(AuditEntry).where(AuditEntry.region_code.startswith(prefix, autoescape=True))
        with unit_of_work() as session:
            return page_of(session, query.order_by(AuditEntry.id.desc()), pagination_parameters)


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AccountOut(many=True))
    @blp.paginate()
    @staff_required("admin")
    def get(self, pagination_parameters):
        """Staff accounts inside the caller's region, with their tokens' expiry and last use."""
        now = clock().now()
        with unit_of_work() as session:
            users = page_of(
                session, accounts.in_scope(current_staff().scope_prefix), pagination_parameters
            )
            return [accounts.view(user, now) for user in users]


@blp.route(f"/accounts/<{ROW_ID}:account_id>/disable")
class DisableAccount(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AccountOut)
    @blp.alt_response(404, description="no such account inside the caller's region")
    @blp.alt_response(409, description="the account is disabled already")
    @staff_required("admin")
    def post(self, account_id: int):
        """Disable an account: its token gets 401 at once, its dashboard sign-in ends."""
        staff = current_staff()
        with unit_of_work() as session:
            user = accounts.find(session, staff.scope_prefix, account_id=account_id)
            return accounts.disable(
                session, user, actor=f"staff:{staff.name}", now=clock().now(), actor_id=staff.id
            )


@blp.route(f"/accounts/<{ROW_ID}:account_id>/rotate")
class RotateAccount(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, RotatedOut)
    @blp.alt_response(404, description="no such account inside the caller's region")
    @blp.alt_response(409, description="the account is disabled")
    @staff_required("admin")
    def post(self, account_id: int):
        """Give an account a new token (returned this once); the old token stops at once.
        Also renews an expired token."""
        staff = current_staff()
        days = current_app.config["APP_CONFIG"].STAFF_TOKEN_DAYS
        with unit_of_work() as session:
            user = accounts.find(session, staff.scope_prefix, account_id=account_id)
            account, token = accounts.rotate(
                session, user, actor=f"staff:{staff.name}", now=clock().now(), days=days
            )
        return {**asdict(account), "token": token}
