"""The collector channel's pages: a collecting unit's own batch (/staff/collect: download the
list, record by collection serial, remove, upload the list back) and the batches of a region
(/staff/collector-batches: each with its items, the bureau's refusals, and for agency staff the
close and cancel buttons). Thin: every change goes through backend.collectors' services, which
apply the scope, the holds and the audit; a refusal is shown on the page in plain words.
"""

from __future__ import annotations

from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for

from backend.api import domain_error_status
from backend.api.downloads import MIMETYPES
from backend.auth.staff import StaffIdentity
from backend.collectors import closing, recording, roster, upload, views
from backend.collectors.units import KIND_NAMES, unit_of
from backend.dashboard import session as sessions
from backend.dashboard.views import bp
from backend.errors import DomainError
from backend.fees import PolicyBook, PolicyNotFound
from backend.infra.web import clock, policy_book, unit_of_work
from backend.states.collectors import STATUS_LABELS
from backend.values.beijing import beijing_today

SHOWN = 20
ACTIONS = {"close": closing.close, "cancel": closing.cancel}
DONE = {"close": "已生成单据号，将自动向税务申报", "cancel": "已作废，其中的登记已释放"}


def _register() -> None:
    pages = [
        ("/collect", "collect", collect_page, ["GET"]),
        ("/collect/open", "collect_open", open_batch, ["POST"]),
        ("/collect/record", "collect_record", record, ["POST"]),
        ("/collect/remove", "collect_remove", remove, ["POST"]),
        ("/collect/upload", "collect_upload", upload_list, ["POST"]),
        ("/collect/list.xlsx", "collect_list", list_file, ["GET"]),
        ("/collector-batches", "collector_batches", batches_page, ["GET"]),
        ("/collector-batches/<batch_no>", "collector_batch", batch_page, ["GET"]),
        (
            "/collector-batches/<batch_no>/<any(close, cancel):action>",
            "collector_batch_action",
            batch_action,
            ["POST"],
        ),
    ]
    for rule, endpoint, view, methods in pages:
        bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)


def seasons(book: PolicyBook, region_code: str, today: date) -> list[tuple[str, int]]:
    """(scheme, period_year) of the collection under way: pension 2019 and medical 2020 in 2019."""
    years = [year for year in book.collection_years(region_code) if year <= today.year]
    if not years:
        return []
    try:
        _, policies = book.collection(region_code, years[-1])
    except PolicyNotFound:
        return []
    return [(p.scheme, p.period_year) for p in policies]


def collect_page(*, error: str | None = None, report=None, status: int = 200):
    staff = _collector()
    with unit_of_work() as db:
        unit = unit_of(db, staff)
        batches = [views.summary(db, b, u) for b, u in db.execute(views.listed(staff).limit(SHOWN))]
        current = next((b for b in batches if b["status"] == "open"), None)
        detail = views.batch_view(db, staff, current["batch_no"]) if current else None
    page = render_template(
        "dashboard/collect.html",
        unit=unit,
        kind_names=KIND_NAMES,
        batch=detail,
        batches=batches,
        seasons=seasons(policy_book(), unit.region_code, beijing_today(clock().now())),
        error=error,
        report=report,
        posted=request.form,
    )
    return page, status


def open_batch():
    staff = _collector()
    try:
        batch_no, made = recording.open_batch(unit_of_work(), staff)
    except DomainError as exc:
        return collect_page(error=exc.message, status=domain_error_status(exc))
    flash(f"已新建代征批次 {batch_no}。" if made else f"代征批次 {batch_no} 仍在收缴中。")
    return redirect(url_for("dashboard.collect"))


def record():
    staff = _collector()
    number = request.form.get("collection_no", "").strip()
    grade = request.form.get("grade_yuan", "").strip()
    if grade and not grade.isdigit():
        return collect_page(error=f"档次应为整数元，不是“{grade}”。", status=422)
    collected = recording.Collected(collection_no=number, grade_yuan=int(grade) if grade else None)
    try:
        done = recording.add(
            unit_of_work(), policy_book(), staff, request.form.get("batch_no", ""), collected
        )
    except DomainError as exc:
        return collect_page(error=exc.message, status=domain_error_status(exc))
    flash(f"已记录 {done['collection_no']}，收缴 {done['amount_fen'] / 100:.2f} 元。")
    return redirect(url_for("dashboard.collect"))


def remove():
    staff = _collector()
    number = request.form.get("collection_no", "")
    try:
        recording.remove(unit_of_work(), staff, request.form.get("batch_no", ""), number)
    except DomainError as exc:
        return collect_page(error=exc.message, status=domain_error_status(exc))
    flash(f"已移出 {number}，该登记恢复为未缴费。")
    return redirect(url_for("dashboard.collect"))


def upload_list():
    staff = _collector()
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return collect_page(error="请选择要上传的代征名单文件。", status=422)
    try:
        report = upload.upload(
            unit_of_work(),
            policy_book(),
            staff,
            request.form.get("batch_no", ""),
            sent.stream,
            sent.filename,
        )
    except DomainError as exc:
        return collect_page(error=exc.message, status=domain_error_status(exc))
    return collect_page(report=report)


def list_file():
    staff = _collector()
    scheme = request.args.get("scheme", "")
    year = request.args.get("period_year", "")
    if scheme not in ("pension", "medical") or not year.isdigit():
        abort(400, description="请选择险种和缴费年度。")
    with unit_of_work() as db:
        listed = roster.for_staff(db, policy_book(), staff, scheme=scheme, period_year=int(year))
    name = f"collector-list-{listed.region_code}-{scheme}-{year}.xlsx"
    return Response(
        roster.xlsx(listed),
        content_type=MIMETYPES["xlsx"],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def batches_page():
    staff = _reader()
    status = request.args.get("status") or None
    if status is not None and status not in STATUS_LABELS:
        abort(400, description=f"没有状态“{status}”。")
    with unit_of_work() as db:
        found = db.execute(views.listed(staff, status=status).limit(SHOWN * 5)).all()
        batches = [views.summary(db, b, u) for b, u in found]
    return render_template(
        "dashboard/collector_batches.html",
        batches=batches,
        status=status,
        status_labels=STATUS_LABELS,
        kind_names=KIND_NAMES,
    )


def batch_page(batch_no: str, *, error: str | None = None, status: int = 200):
    staff = _reader()
    with unit_of_work() as db:
        batch = views.batch_view(db, staff, batch_no)
    page = render_template(
        "dashboard/collector_batch.html", batch=batch, kind_names=KIND_NAMES, error=error
    )
    return page, status


def batch_action(batch_no: str, action: str):
    staff = _reader()
    if not staff.may("import"):
        abort(403, description="仅经办机构人员可以生成单据号或作废批次。")
    try:
        ACTIONS[action](unit_of_work(), staff, batch_no)
    except DomainError as exc:
        return batch_page(batch_no, error=exc.message, status=domain_error_status(exc))
    flash(f"代征批次 {batch_no} {DONE[action]}。")
    return redirect(url_for("dashboard.collector_batch", batch_no=batch_no))


def _collector() -> StaffIdentity:
    staff = sessions.current()
    if not staff.may("collect"):
        abort(403, description="代征收缴页面仅对代征单位账号开放。")
    return staff


def _reader() -> StaffIdentity:
    staff = sessions.current()
    if not (staff.may("view") or staff.may("collect")):
        abort(403, description="您的账号不能查看代征批次。")
    return staff


_register()
