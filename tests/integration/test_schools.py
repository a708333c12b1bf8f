"""School batches over real HTTP: a school pays several students for several study years with one
WeChat QR code (the fake platform pays the code_url), every year's registration is paid with
channel school and told to the fake bureau, and a student who leaves early gets their unused
years back (partial refunds of the batch's order, each with its reversal), the rest untouched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend import create_app
from backend.models import LedgerMessage, ProgressChange, Registration
from tests.conftest import serve
from tests.support.bureau import bureau_for
from tests.support.dashboard import csrf_of, staff_account
from tests.support.dashboard import sign_in as sign_in_dashboard
from tests.support.resident import order, sign_in
from tests.support.running import fresh, run_worker, wait_until
from tests.support.schools import (
    BATCHES,
    SCHOOL,
    STUDENTS,
    add_student,
    batch,
    make_batch,
    refund_years,
    scan_and_pay,
)

SHARE = 25000  # the 2020 medical individual share, in fen


@pytest.fixture
def school_app(app_config, with_regions):
    # Ask WeChat about a silent refund at once and retry the bureau without waiting.
    return create_app(
        {**app_config, "REFUND_CHECK_AFTER_SECONDS": 0, "LEDGER_RETRY_SCHEDULE": (0, 0, 0)}
    )


@pytest.fixture
def server(school_app):
    with serve(school_app) as running:
        yield running


@pytest.fixture
def bureau(server, school_app, clock):
    with bureau_for(school_app, server.url, clock) as running:
        yield running


@pytest.fixture
def session(school_app):
    with school_app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def school(school_app):
    token = staff_account(school_app, "xinxiang-no1-school", "school", "410721", school_code=SCHOOL)
    return {"Authorization": f"Bearer {token}"}


def registrations(session, enrollee_id):
    """A person's medical registrations: {period_year: (status, paid_channel, collection_no)}."""
    return fresh(
        session,
        lambda s: {
            r.period_year: (r.status, r.paid_channel, r.collection_no)
            for r in s.scalars(select(Registration).where(Registration.enrollee_id == enrollee_id))
        },
    )


def deliver_until(app, done, rounds=20):
    """Run the worker until `done()` holds: the bureau's side may need several rounds (pushes
    before payments, payments before reversals)."""
    for _ in range(rounds):
        if done():
            return
        run_worker(app)
    assert done(), "the worker did not deliver what was expected"


def test_a_school_pays_several_students_for_several_years_with_one_qr_code_and_refunds_a_leaver(
    session, http, server, bureau, fake_wechat, school_app, school, staff_token, clock
):
    leaver = add_student(session, seq=1, years_left=3)
    second = add_student(session, seq=2, years_left=2)
    last_year = add_student(session, seq=3, years_left=1)
    add_student(session, seq=4, years_left=3, school_code="4107210099")  # another school's

    listed = http.get(server.url + STUDENTS, headers=school).json()
    assert sorted((s["student_ref"], s["years_open"]) for s in listed) == sorted(
        [(leaver.ref, 3), (second.ref, 2), (last_year.ref, 1)]
    )
    assert all("*" in s["name_masked"] and "********" in s["id_number_masked"] for s in listed)

    students = [(leaver.ref, 3), (second.ref, 2), (last_year.ref, 1)]
    made = make_batch(http, server.url, school, students, key="school-batch-0001")
    assert made.status_code == 201, made.text
    created = made.json()
    batch_no = created["batch_no"]
    assert (created["status"], created["total_fen"]) == ("awaiting_payment", 6 * SHARE)
    assert created["code_url"].startswith("weixin://") and created["qr_png_url"]
    assert [[y["period_year"] for y in s["years"]] for s in created["students"]] == [
        [2020, 2021, 2022],
        [2020, 2021],
        [2020],
    ]
    assert {y["amount_fen"] for s in created["students"] for y in s["years"]} == {SHARE}
    # The later years are registered under serials derived from the student's, and pushed.
    years = registrations(session, leaver.enrollee_id)
    assert [years[y][2] for y in (2021, 2022)] == [
        f"{leaver.collection_no}-Y2021",
        f"{leaver.collection_no}-Y2022",
    ]
    pushed = fresh(
        session,
        lambda s: s.scalars(
            select(Registration.collection_no)
            .join(LedgerMessage, LedgerMessage.registration_id == Registration.id)
            .where(LedgerMessage.kind == "registration", Registration.period_year > 2020)
        ).all(),
    )
    assert sorted(pushed) == sorted(
        [years[2021][2], years[2022][2], f"{second.collection_no}-Y2021"]
    )
    replayed = make_batch(http, server.url, school, students, key="school-batch-0001")
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["batch_no"] == batch_no
    png = http.get(server.url + created["qr_png_url"], headers=school)
    assert png.headers["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"

    # While the batch holds them, a student's year cannot be paid by a resident as well.
    auth = sign_in(http, server.url, fake_wechat, "a-parent")
    held = order(http, server.url, auth, [leaver.ref], trade_type="NATIVE")
    assert held.status_code == 409 and held.json()["reason"] == "in_another_order"

    scan_and_pay(http, fake_wechat, created["code_url"])
    wait_until(lambda: batch(http, server.url, school, batch_no).json()["status"] == "paid")
    for student, count in ((leaver, 3), (second, 2), (last_year, 1)):
        found = registrations(session, student.enrollee_id)
        assert sorted(found) == list(range(2020, 2020 + count))
        assert {(status, channel) for status, channel, _ in found.values()} == {("paid", "school")}

    def received(kind):
        return [m for m in http.get(f"{bureau.url}/_control/messages").json() if m["kind"] == kind]

    deliver_until(school_app, lambda: len(received("payment")) == 6)
    payments = received("payment")
    assert {m["body"]["channel"] for m in payments} == {"school"}
    assert {m["body"]["order_no"] for m in payments} == {created["order_no"]}
    assert sorted((m["body"]["collection_no"], m["body"]["period_year"]) for m in payments) == (
        sorted(
            [(no, year) for year, (_, _, no) in registrations(session, leaver.enrollee_id).items()]
            + [(no, y) for y, (_, _, no) in registrations(session, second.enrollee_id).items()]
            + [(last_year.collection_no, 2020)]
        )
    )

    def entered():
        view = batch(http, server.url, school, batch_no).json()
        return all(y["tax_receipt_no"] for s in view["students"] for y in s["years"]) and view

    view = wait_until(entered)
    assert {y["ledger_state"] for s in view["students"] for y in s["years"]} == {"treasury_entered"}

    # The first student leaves after 2020: 2021 and 2022 come back, each with its reversal.
    agency = {"Authorization": f"Bearer {staff_token('agency', '410721')}"}
    assert refund_years(http, server.url, agency, batch_no, leaver.ref, 2021).status_code == 403
    asked = refund_years(http, server.url, school, batch_no, leaver.ref, 2021, key="leaver-0001")
    assert asked.status_code == 201, asked.text
    refunds = asked.json()["refunds"]
    assert [(r["period_year"], r["amount_fen"]) for r in refunds] == [(2021, SHARE), (2022, SHARE)]
    again = refund_years(http, server.url, school, batch_no, leaver.ref, 2021, key="leaver-0001")
    assert [r["refund_no"] for r in again.json()["refunds"]] == [r["refund_no"] for r in refunds]

    def refunded():
        view = batch(http, server.url, school, batch_no).json()
        years = {y["period_year"]: y for y in view["students"][0]["years"]}
        return all(years[y]["refunded_fen"] == SHARE for y in (2021, 2022)) and view

    view = wait_until(refunded)
    assert view["status"] == "paid"  # the other years stay paid
    assert view["students"][0]["years"][0]["refunded_fen"] == 0
    deliver_until(school_app, lambda: len(received("reversal")) == 2)
    reversals = received("reversal")
    by_id = {m["message_id"]: m for m in payments}
    assert sorted(
        by_id[r["body"]["original_message_id"]]["body"]["period_year"] for r in reversals
    ) == [
        2021,
        2022,
    ]
    assert {r["body"]["amount_fen"] for r in reversals} == {SHARE}

    left = registrations(session, leaver.enrollee_id)
    assert left[2020][:2] == ("treasury_entered", "school")
    assert (left[2021][:2], left[2022][:2]) == (("unpaid", None), ("unpaid", None))
    for student in (second, last_year):
        assert {s for s, _, _ in registrations(session, student.enrollee_id).values()} == {
            "treasury_entered"
        }

    # Reconciliation staff see the school's money under its channel in the settlement file.
    recon = {"Authorization": f"Bearer {staff_token('recon', '410721')}"}
    settlement = http.get(
        server.url + "/api/staff/v1/settlement",
        params={"date": "2019-11-20", "county": "410721", "scheme": "medical", "format": "csv"},
        headers=recon,
    ).content.decode("utf-8-sig")
    assert settlement.count("学校代缴") == 8  # six payments, two refunds

    # Progress counts the school's channel, and the later years registered for the batch.
    clock.advance(timedelta(seconds=school_app.config["APP_CONFIG"].PROGRESS_ROLL_SECONDS + 1))
    run_worker(school_app)

    now = http.get(
        server.url + "/api/staff/v1/progress",
        params={"region": "410721", "scheme": "medical", "period_year": 2020},
        headers=recon,
    ).json()
    assert (now["registered"], now["paid_by_channel"]) == (4, {"school": 3})
    # No policy prices 2021 yet (no progress page), but the journal already counts it.
    later = fresh(
        session,
        lambda s: s.execute(
            select(func.sum(ProgressChange.registered), func.sum(ProgressChange.paid)).where(
                ProgressChange.period_year == 2021
            )
        ).one(),
    )
    assert tuple(later) == (2, 1)


def test_years_beyond_the_study_and_years_held_elsewhere_are_refused(
    session, http, server, fake_wechat, school, school_app
):
    student = add_student(session, seq=11, years_left=2)
    long_study = add_student(session, seq=12, years_left=8)
    other_school = add_student(session, seq=13, years_left=3, school_code="4107210099")

    beyond = make_batch(http, server.url, school, [(student.ref, 3)])
    assert beyond.status_code == 422 and beyond.json()["reason"] == "beyond_study_years"
    assert "剩余学年为2年" in beyond.json()["message"] and "2021年度" in beyond.json()["message"]
    over_policy = make_batch(http, server.url, school, [(long_study.ref, 6)])
    assert over_policy.status_code == 422 and over_policy.json()["reason"] == "too_many_years"
    assert "最多缴纳5个年度" in over_policy.json()["message"]
    foreign = make_batch(http, server.url, school, [(other_school.ref, 1)])
    assert foreign.status_code == 404 and other_school.ref in foreign.json()["message"]
    # Nothing of a refused batch was written: no later year registered, nothing held.
    assert sorted(registrations(session, student.enrollee_id)) == [2020]

    # A resident's open order holds the student's registration: the school's batch gets 409.
    auth = sign_in(http, server.url, fake_wechat, "a-parent")
    assert order(http, server.url, auth, [student.ref], trade_type="NATIVE").status_code == 201
    held = make_batch(http, server.url, school, [(student.ref, 2), (long_study.ref, 2)])
    assert held.status_code == 409 and held.json()["reason"] == "in_another_order"
    assert sorted(registrations(session, long_study.enrollee_id)) == [2020]

    # A school account cannot read others' batches, and staff other than the school cannot make one.
    made = make_batch(http, server.url, school, [(long_study.ref, 2)]).json()
    other = staff_account(
        school_app, "another-school", "school", "410721", school_code="4107210099"
    )
    other_headers = {"Authorization": f"Bearer {other}"}
    assert batch(http, server.url, other_headers, made["batch_no"]).status_code == 404
    assert http.get(server.url + BATCHES, headers=other_headers).json() == []
    agency = staff_account(school_app, "agency-410721", "agency", "410721")
    agency_headers = {"Authorization": f"Bearer {agency}"}
    assert make_batch(http, server.url, agency_headers, [(long_study.ref, 1)]).status_code == 403
    assert batch(http, server.url, agency_headers, made["batch_no"]).status_code == 200


def test_the_school_makes_a_batch_in_the_dashboard_and_sees_its_qr_code(
    session, http, server, school_app
):
    student = add_student(session, seq=21, years_left=2)
    add_student(session, seq=22, years_left=1, school_code="4107210099")
    token = staff_account(school_app, "school-desk", "school", "410721", school_code=SCHOOL)
    assert sign_in_dashboard(http, server.url, "school-desk", token).status_code == 302

    # A school account's dashboard is its school: the campaign's pages lead there.
    home = http.get(server.url + "/staff/")
    assert home.url.endswith("/staff/school") and "学校代缴" in home.text
    assert f'data-student="{student.ref}"' in home.text and home.text.count("data-student=") == 1

    form = {
        "csrf_token": csrf_of(home.text),
        "idempotency_key": "dashboard-batch-0001",
        f"years-{student.ref}": "2",
    }
    made = http.post(server.url + "/staff/school/batches", data=form)
    assert made.status_code == 200 and "/staff/school/batches/XB" in made.url
    assert "待支付" in made.text and "500.00" in made.text
    assert f"{student.collection_no}-Y2021" in made.text
    qr = http.get(made.url + "/qrcode.png")
    assert qr.headers["Content-Type"] == "image/png"

    too_many = http.post(
        server.url + "/staff/school/batches",
        data={**form, "idempotency_key": "dashboard-batch-0002", f"years-{student.ref}": "3"},
    )
    assert too_many.status_code == 422 and "剩余学年为2年" in too_many.text


def test_an_expired_batch_frees_its_years_and_the_next_batch_reuses_the_registered_ones(
    session, http, server, school, school_app, clock
):
    student = add_student(session, seq=31, years_left=3)
    first = make_batch(http, server.url, school, [(student.ref, 3)]).json()
    registered = registrations(session, student.enrollee_id)
    assert {s for s, _, _ in registered.values()} == {"pending"}

    clock.advance(timedelta(seconds=school_app.config["APP_CONFIG"].ORDER_TTL_SECONDS + 1))
    run_worker(school_app)  # closes the expired order at WeChat and here
    expired = batch(http, server.url, school, first["batch_no"]).json()
    assert (expired["status"], expired["code_url"]) == ("expired", None)
    assert {s for s, _, _ in registrations(session, student.enrollee_id).values()} == {"unpaid"}

    second = make_batch(http, server.url, school, [(student.ref, 3)])
    assert second.status_code == 201, second.text
    assert registrations(session, student.enrollee_id) == {
        year: ("pending", None, no) for year, (_, _, no) in registered.items()
    }
    years = [(y["period_year"], y["collection_no"]) for y in second.json()["students"][0]["years"]]
    assert years == sorted((year, no) for year, (_, _, no) in registered.items())
    pushes = fresh(
        session,
        lambda s: s.scalar(
            select(func.count())
            .select_from(LedgerMessage)
            .join(Registration, Registration.id == LedgerMessage.registration_id)
            .where(LedgerMessage.kind == "registration", Registration.period_year > 2020)
        ),
    )
    assert pushes == 2  # 2021 and 2022, pushed once, when first registered
