"""The staff dashboard's pages (/staff/): thin views over the dashboard's read models.

Every page but the sign-in form needs a signed-in person (backend.dashboard.session) and shows
only their region; every POST carries the session's CSRF token (backend.dashboard.csrf).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.exceptions import HTTPException

from backend.api import domain_error_status
from backend.api.bulletins import MIMETYPES as BULLETIN_MIMETYPES
from backend.api.downloads import MIMETYPES as SPREADSHEET_MIMETYPES
from backend.api.orders import qr_png
from backend.api.paths import ROW_ID
from backend.bulletins import service as bulletin_service
from backend.dashboard import assets, batches, charts, csrf, regions, signin, unpaid
from backend.dashboard import bulletins as bulletin_pages
from backend.dashboard import finance as finance_pages
from backend.dashboard import operations as ops
from backend.dashboard import schools as school_pages
from backend.dashboard import session as sessions
from backend.errors import DomainError, Unavailable
from backend.finance import report
from backend.infra.rate_limits import TooManyRequests
from backend.infra.web import clock, payment_gateway, policy_book, rate_limit_address, unit_of_work
from backend.models.staff import DEPARTMENT_LABELS
from backend.posters.fonts import FontMissing
from backend.posters.service import typeface_of
from backend.schools import batches as school_batches
from backend.schools import views as school_views
from backend.values import region_codes
from backend.values.beijing import beijing_text, beijing_today
from backend.values.labels import CHANNEL_NAMES, SCHEME_SHORT, registration_label
from backend.values.money import yuan_text

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/staff",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

PUBLIC = {"dashboard.sign_in", "dashboard.static", "dashboard.echarts"}
ROLE_LABELS = {
    "viewer": "查看",
    "agency": "经办",
    "recon": "对账",
    "admin": "管理员",
    "school": "学校",
    "collector": "代征单位",
}
# A school account's pages: its students and batches, nothing of the campaign's figures.
SCHOOL_PAGES = {"dashboard.school", "dashboard.make_school_batch", "dashboard.school_batch"}
SCHOOL_PAGES |= {"dashboard.school_batch_qr", "dashboard.sign_out"}
LEVEL_LABELS = {
    "city": "市",
    "county": "县（市、区）",
    "township": "乡镇（街道）",
    "village": "村（社区）",
}
# Strict: scripts and styles from our own files only, nothing inline, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@bp.before_request
def guard():
    if request.method == "POST":
        csrf.check()
    if request.endpoint in PUBLIC:
        return None
    staff = sessions.current()
    if staff is None:
        if g.get("dashboard_expired"):
            flash("登录已失效，请重新登录。")
        return redirect(url_for("dashboard.sign_in", next=request.full_path.rstrip("?")))
    if staff.may("school") and request.endpoint not in SCHOOL_PAGES:
        return redirect(url_for("dashboard.school"))
    return None


@bp.after_request
def headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        # Pages name people and money: never kept by the browser or a proxy.
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_global()
def csrf_token() -> str:
    return csrf.token()


@bp.context_processor
def page_globals():
    staff = g.get("dashboard_staff")
    return {
        "staff": staff,
        # Finance totals are a county's: for staff of the city or a county only.
        "sees_counties": staff is not None
        and region_codes.level_of(staff.region_code) in ("city", "county"),
        "role_labels": ROLE_LABELS,
        "level_labels": LEVEL_LABELS,
        "department_labels": DEPARTMENT_LABELS,
        "channel_names": CHANNEL_NAMES,
        "scheme_short": SCHEME_SHORT,
        "registration_label": registration_label,
        "yuan": lambda fen: yuan_text(fen, grouped=True),
        "percent": charts.percent_text,
        "beijing": beijing_text,
        "echarts_version": assets.echarts_version(),
    }


@bp.route("/login", methods=["GET", "POST"])
def sign_in():
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if sessions.current() is not None:
            return redirect(target)
        return render_template("dashboard/login.html", next=target)
    # Tokens cannot be guessed, but a form that answers without limit invites trying.
    current_app.extensions["rate_limits"].hit(
        [(current_app.config["SESSION_LIMIT_PER_ADDRESS"], "staff-sign-in/" + rate_limit_address())]
    )
    try:
        signed = signin.sign_in(
            unit_of_work(),
            name=request.form.get("name", ""),
            token=request.form.get("token", ""),
        )
    except signin.SignInRefused as exc:
        return render_template("dashboard/login.html", next=target, error=exc.message), 401
    sessions.start(signed)
    return redirect(target)


@bp.post("/logout")
def sign_out():
    sessions.end()
    flash("您已退出登录。")
    return redirect(url_for("dashboard.sign_in"))


@bp.get("/")
def overview():
    staff = sessions.current()
    return _region(staff.region_code, overview=True)


@bp.get("/regions/<code>")
def region(code: str):
    return _region(code, overview=False)


@bp.get("/regions/<code>/unpaid")
def village_unpaid(code: str):
    staff = sessions.current()
    with unit_of_work() as db:
        rows = unpaid.unpaid_in_village(db, staff=staff, village_code=code)
        village, path = regions.locate(db, staff=staff, region_code=code)
    return render_template(
        "dashboard/unpaid.html",
        village=village,
        path=path,
        full_name=regions.full_name(village, path),
        rows=rows,
        households=len({r.household_no for r in rows}),
        printed_at=beijing_text(clock().now()),
    )


@bp.get("/operations")
def operations():
    staff = sessions.current()
    if not staff.may("recon"):
        abort(403, description="运营页面仅对对账人员和管理员开放。")
    today = _today()
    with unit_of_work() as db:
        found = ops.operations(db, staff=staff, today=today)
        return render_template(
            "dashboard/operations.html", ops=found, today=today, kind_labels=ops.KIND_LABELS
        )


@bp.get("/bulletins")
def bulletins():
    return _bulletins_page()


@bp.post("/bulletins")
def make_bulletin():
    """Make the bulletin of a day now, as POST /api/staff/v1/bulletins does."""
    staff = sessions.current()
    if not staff.may("import"):
        abort(403, description="仅经办人员和管理员可以生成通报。")
    with unit_of_work() as db:
        form = bulletin_pages.make_form(db, staff=staff, today=_today())
    try:
        code, scheme, day = bulletin_pages.checked_request(form, staff, request.form)
        made = bulletin_service.make(
            unit_of_work(),
            policy_book(),
            _typeface(),
            region_code=code,
            scheme=scheme,
            day=day,
            actor=staff.name,
        )
    except DomainError as exc:
        return _bulletins_page(error=exc.message, status=domain_error_status(exc))
    name = dict(form.regions)[code] if form else code
    flash(
        f"已{'重新' if made.replaced else ''}生成{name}{registration_label(scheme, made.period_year)}"
        f"通报（截至 {day.isoformat()}）。"
    )
    return redirect(url_for("dashboard.bulletins", made=made.id))


@bp.get(f"/bulletins/<{ROW_ID}:bulletin_id>.<any(xlsx, pdf):kind>")
def bulletin_file(bulletin_id: int, kind: str):
    with unit_of_work() as db:
        data, name = bulletin_service.file_of(db, sessions.current(), bulletin_id, kind)
    return _download(data, BULLETIN_MIMETYPES[kind], name)


@bp.get("/finance")
def finance():
    with unit_of_work() as db:
        asked, choices = _finance_asked(db)
        page = finance_pages.finance_page(db, asked, choices)
    return render_template("dashboard/finance.html", page=page, level_names=report.LEVEL_NAMES)


@bp.get("/finance.<any(csv, xlsx):fmt>")
def finance_file(fmt: str):
    """The finance totals as the API's CSV or XLSX (the same table)."""
    with unit_of_work() as db:
        asked, _ = _finance_asked(db)
        totals = finance_pages.totals_of(db, asked)
    records = report.records(asked.policy, totals)
    name = report.file_stem(asked.county, asked.scheme, asked.period_year)
    data = report.TABLE.xlsx(records, title=name) if fmt == "xlsx" else report.TABLE.csv(records)
    return _download(data, SPREADSHEET_MIMETYPES[fmt], f"{name}.{fmt}")


@bp.get("/school")
def school():
    return _school_page()


@bp.post("/school/batches")
def make_school_batch():
    """Make a batch of the students given years, as POST /api/staff/v1/school-batches does."""
    staff = sessions.current()
    if not staff.may("school"):
        abort(403, description="仅学校账号可以为学生代缴。")
    cfg = current_app.config["APP_CONFIG"]
    try:
        batch_no, _ = school_batches.create_batch(
            unit_of_work(),
            payment_gateway(),
            policy_book(),
            staff,
            school_batches.BatchAsk(
                # The form's own key: submitting it twice makes one batch.
                idempotency_key=request.form.get("idempotency_key", "")[:64] or uuid.uuid4().hex,
                students=school_pages.asked_students(request.form),
                client_ip=cfg.SERVER_IP,
            ),
            now=clock().now(),
            ttl=timedelta(seconds=cfg.ORDER_TTL_SECONDS),
            check_after=timedelta(seconds=cfg.ORDER_CHECK_AFTER_SECONDS),
        )
    except DomainError as exc:
        return _school_page(error=exc.message, status=domain_error_status(exc))
    return redirect(url_for("dashboard.school_batch", batch_no=batch_no))


@bp.get("/school/batches/<batch_no>")
def school_batch(batch_no: str):
    with unit_of_work() as db:
        found = school_views.batch_view(db, sessions.current(), batch_no, clock().now())
    return render_template(
        "dashboard/school_batch.html", batch=found, status_labels=school_pages.STATUS_LABELS
    )


@bp.get("/school/batches/<batch_no>/qrcode.png")
def school_batch_qr(batch_no: str):
    with unit_of_work() as db:
        found = school_views.batch_view(db, sessions.current(), batch_no, clock().now())
    if not found["code_url"]:
        abort(404, description="该批次没有可扫码支付的二维码（已支付或已过期）。")
    return qr_png(found["code_url"])


@bp.get("/assets/echarts-<version>.min.js")
def echarts(version: str):
    script = assets.echarts_script()
    if script is None or version != assets.echarts_version():
        abort(404, description="图表组件未安装：请在项目目录运行 make install（npm ci）。")
    response = send_file(script, mimetype="text/javascript", max_age=assets.MAX_AGE)
    response.headers["Cache-Control"] = f"public, max-age={assets.MAX_AGE}, immutable"
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return _error_page(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(TooManyRequests)
def too_many(exc: TooManyRequests):
    response, status = _error_page(429, "登录尝试过于频繁，请稍后再试。")
    response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    return _error_page(domain_error_status(exc), exc.message)


def _region(code: str, *, overview: bool):
    staff = sessions.current()
    today = _today()
    day = _chosen_day()
    with unit_of_work() as db:
        page = regions.region_page(
            db, staff=staff, region_code=code, day=day, today=today, policies=policy_book()
        )
        county_batches = (
            batches.county_batches(db, staff=staff, county_code=page.region.code)
            if page.region.level == "county"
            else None
        )
    return render_template(
        "dashboard/region.html",
        page=page,
        county_batches=county_batches,
        batch_status_labels=batches.STATUS_LABELS,
        overview=overview,
        chosen=day,
        history_chart=lambda s: charts.completion_over_time(s.progress, s.days, page.opens),
        ranking_chart=lambda s: charts.children_ranked(s.progress),
    )


def _bulletins_page(*, error: str | None = None, status: int = 200):
    staff = sessions.current()
    with unit_of_work() as db:
        page = bulletin_pages.bulletins_page(db, staff=staff, today=_today())
    made = request.args.get("made", type=int)
    return render_template(
        "dashboard/bulletins.html", page=page, error=error, posted=request.form, made=made
    ), status


def _school_page(*, error: str | None = None, status: int = 200):
    staff = sessions.current()
    if not staff.may("school"):
        abort(403, description="学校代缴页面仅对学校账号开放。")
    with unit_of_work() as db:
        page = school_pages.school_page(db, staff, policy_book(), clock().now())
    return render_template(
        "dashboard/school.html",
        page=page,
        error=error,
        status_labels=school_pages.STATUS_LABELS,
        years_field=school_pages.YEARS_FIELD,
        idempotency_key=uuid.uuid4().hex,
    ), status


def _typeface():
    try:
        return typeface_of(current_app.config["APP_CONFIG"])
    except FontMissing as exc:
        current_app.logger.error("%s", exc)
        raise Unavailable(exc.chinese, reason="font_missing") from None


def _finance_asked(db):
    text = request.args.get("period_year", "")
    if text and not text.isdigit():
        abort(400, description=f"年度不正确：{text}。")
    return finance_pages.ask(
        db,
        staff=sessions.current(),
        policies=policy_book(),
        county=request.args.get("county") or None,
        scheme=request.args.get("scheme") or None,
        period_year=int(text) if text else None,
    )


def _download(data: bytes, mimetype: str, name: str) -> Response:
    # Files of figures and money, like the pages: never kept by a browser or proxy.
    return Response(
        data,
        content_type=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _today() -> date:
    return beijing_today(clock().now())


def _chosen_day() -> date | None:
    text = request.args.get("date", "")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400, description=f"日期格式不正确：{text}（应为 YYYY-MM-DD）。")


def _safe_next(target: str | None) -> str:
    """Only a dashboard address of our own (no other host, no scheme) after signing in."""
    default = url_for("dashboard.overview")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff/") or "\\" in target:
        return default
    return target


def _error_page(status: int, message: str):
    page = render_template("dashboard/error.html", status=status, message=message)
    return current_app.make_response(page), status
