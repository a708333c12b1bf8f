"""The staff dashboard's pages (/staff/): thin views over the dashboard's read models.

Every page but the sign-in form needs a signed-in person (backend.dashboard.session) and shows
only their region; every POST carries the session's CSRF token (backend.dashboard.csrf).
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from flask import (
    Blueprint,
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
from backend.dashboard import assets, charts, csrf, regions, signin, unpaid
from backend.dashboard import operations as ops
from backend.dashboard import session as sessions
from backend.errors import DomainError
from backend.infra.rate_limits import TooManyRequests
from backend.infra.web import client_address, clock, policy_book, unit_of_work
from backend.models.staff import DEPARTMENT_LABELS
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
ROLE_LABELS = {"viewer": "查看", "agency": "经办", "recon": "对账", "admin": "管理员"}
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
    if sessions.current() is None:
        if g.get("dashboard_expired"):
            flash("登录已失效，请重新登录。")
        return redirect(url_for("dashboard.sign_in", next=request.full_path.rstrip("?")))
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
    return {
        "staff": g.get("dashboard_staff"),
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
        [(current_app.config["SESSION_LIMIT_PER_ADDRESS"], "staff-sign-in/" + client_address())]
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
    return render_template(
        "dashboard/region.html",
        page=page,
        overview=overview,
        chosen=day,
        history_chart=lambda s: charts.completion_over_time(s.progress, s.days, page.opens),
        ranking_chart=lambda s: charts.children_ranked(s.progress),
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
