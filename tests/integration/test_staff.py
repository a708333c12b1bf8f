"""Staff accounts: created on the command line, authenticated by token, limited by role and region."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import select

from backend.models import AuditEntry, Enrollee, Registration, StaffUser
from backend.models.registrations import new_ref
from tests.support.dashboard import sign_in
from tests.support.people import make_id_number
from tests.support.regions import OTHER_VILLAGE, VILLAGE

PROJECT = Path(__file__).resolve().parents[2]


def flask_cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    flask = Path(sys.executable).parent / "flask"
    return subprocess.run(
        [str(flask), "--app", "backend", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_staff_account_may_belong_to_the_pension_or_the_medical_bureau(
    app, with_regions, live_server, http, database_url
):
    result = flask_cli(
        database_url,
        "staff",
        "create",
        "li",
        "--role",
        "viewer",
        "--region",
        "410721",
        "--department",
        "nhsa",
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    me = http.get(f"{live_server}/api/staff/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["department"] == "nhsa"
    bad = flask_cli(
        database_url,
        "staff",
        "create",
        "zhao",
        "--role",
        "viewer",
        "--region",
        "4107",
        "--department",
        "finance",
    )
    assert bad.returncode != 0 and "finance" in bad.stderr


def test_staff_create_prints_a_working_token_on_its_last_line(
    app, with_regions, live_server, http, database_url
):
    result = flask_cli(
        database_url, "staff", "create", "wang", "--role", "agency", "--region", "410721"
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]

    me = http.get(f"{live_server}/api/staff/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json() == {
        "name": "wang",
        "role": "agency",
        "region_code": "410721000000",
        "department": None,
    }

    with app.extensions["db_sessions"]() as session:
        stored = session.scalar(select(StaffUser).where(StaffUser.name == "wang"))
        assert token not in stored.token_hash  # only a hash is kept
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "staff.create" in actions


def test_staff_create_refuses_an_unknown_role_or_region(app, with_regions, database_url):
    bad_role = flask_cli(
        database_url, "staff", "create", "li", "--role", "boss", "--region", "410721"
    )
    assert bad_role.returncode != 0
    assert "boss" in bad_role.stderr
    bad_region = flask_cli(
        database_url, "staff", "create", "li", "--role", "viewer", "--region", "419999"
    )
    assert bad_region.returncode != 0
    assert "unknown region" in bad_region.stderr


def test_staff_endpoints_need_a_valid_token(live_server, http):
    assert http.get(f"{live_server}/api/staff/v1/me").status_code == 401
    wrong = http.get(f"{live_server}/api/staff/v1/me", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "staff token" in wrong.json()["message"]


def test_a_viewer_may_not_read_the_audit_log(with_regions, staff_token, live_server, http):
    token = staff_token("viewer", "410721")
    answer = http.get(
        f"{live_server}/api/staff/v1/audit", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 403


def _register(session, village: str, seq: str) -> None:
    person = Enrollee(
        id_number=make_id_number(area=village[:6], seq=seq),
        name="测试",
        birth_date=__import__("datetime").date(1980, 1, 1),
        village_code=village,
    )
    session.add(person)
    session.flush()
    session.add(
        Registration(
            ref=new_ref(),
            enrollee_id=person.id,
            scheme="medical",
            period_year=2020,
            collection_no=f"C{village}{seq}",
            village_code=village,
        )
    )


def test_county_staff_see_only_their_county(app, with_regions, staff_token, live_server, http):
    with app.extensions["db_sessions"]() as session:
        _register(session, VILLAGE, "011")
        _register(session, OTHER_VILLAGE, "013")
        session.commit()
    county = {"Authorization": f"Bearer {staff_token('viewer', '410721')}"}
    city = {"Authorization": f"Bearer {staff_token('viewer', '410700')}"}

    mine = http.get(f"{live_server}/api/staff/v1/registrations", headers=county).json()
    assert [r["village_code"] for r in mine] == [VILLAGE]
    assert mine[0]["id_number_masked"].count("*") == 8

    other = http.get(
        f"{live_server}/api/staff/v1/registrations",
        params={"region": OTHER_VILLAGE},
        headers=county,
    )
    assert other.status_code == 200
    assert other.json() == []

    everything = http.get(f"{live_server}/api/staff/v1/registrations", headers=city).json()
    assert sorted(r["village_code"] for r in everything) == sorted([VILLAGE, OTHER_VILLAGE])


# Staff tokens: expiry, last use, and an admin's list, disable and rotate.


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def accounts_of(http, base: str, admin: str) -> dict[str, dict]:
    answer = http.get(f"{base}/api/staff/v1/accounts", headers=bearer(admin))
    assert answer.status_code == 200, answer.text
    return {account["name"]: account for account in answer.json()}


def test_a_staff_token_stops_working_when_it_expires(
    with_regions, staff_token, live_server, http, clock
):
    token = staff_token("viewer", "410721", name="zhang")
    clock.advance(timedelta(days=90) - timedelta(minutes=1))
    assert http.get(f"{live_server}/api/staff/v1/me", headers=bearer(token)).status_code == 200
    clock.advance(timedelta(minutes=1))
    expired = http.get(f"{live_server}/api/staff/v1/me", headers=bearer(token))
    assert expired.status_code == 401
    assert expired.json()["message"].startswith("this staff token expired on 2020-02-18")


def test_the_list_shows_when_a_token_was_last_used_written_at_most_once_a_minute(
    with_regions, staff_token, live_server, http, clock
):
    admin = staff_token("admin", "410700", name="city-admin")
    clerk = staff_token("viewer", "410721", name="clerk")
    assert accounts_of(http, live_server, admin)["clerk"]["last_used_at"] is None

    used_at = clock.now()
    http.get(f"{live_server}/api/staff/v1/me", headers=bearer(clerk)).raise_for_status()
    first = datetime.fromisoformat(accounts_of(http, live_server, admin)["clerk"]["last_used_at"])
    assert abs(first - used_at) < timedelta(seconds=5)

    clock.advance(timedelta(seconds=40))  # a busy script: no write within the minute
    http.get(f"{live_server}/api/staff/v1/me", headers=bearer(clerk)).raise_for_status()
    assert accounts_of(http, live_server, admin)["clerk"]["last_used_at"] == first.isoformat()

    clock.advance(timedelta(seconds=30))
    http.get(f"{live_server}/api/staff/v1/me", headers=bearer(clerk)).raise_for_status()
    later = datetime.fromisoformat(accounts_of(http, live_server, admin)["clerk"]["last_used_at"])
    assert later - first >= timedelta(seconds=70)


def test_a_disabled_token_gets_401_at_once_and_its_dashboard_session_ends(
    app, with_regions, staff_token, live_server, http, clock
):
    admin = staff_token("admin", "410700", name="city-admin")
    clerk = staff_token("viewer", "410721", name="clerk")
    with requests.Session() as browser:
        assert sign_in(browser, live_server, "clerk", clerk).status_code == 302
        assert browser.get(f"{live_server}/staff/", allow_redirects=False).status_code == 200
        clerk_id = accounts_of(http, live_server, admin)["clerk"]["id"]

        done = http.post(
            f"{live_server}/api/staff/v1/accounts/{clerk_id}/disable", headers=bearer(admin)
        )
        assert done.status_code == 200 and done.json()["status"] == "disabled"

        refused = http.get(f"{live_server}/api/staff/v1/me", headers=bearer(clerk))
        assert refused.status_code == 401
        assert refused.json()["message"] == "this staff token was disabled"
        out = browser.get(f"{live_server}/staff/", allow_redirects=False)
        assert out.status_code == 302 and "/staff/login" in out.headers["Location"]
        assert sign_in(browser, live_server, "clerk", clerk).status_code == 401

    again = http.post(
        f"{live_server}/api/staff/v1/accounts/{clerk_id}/disable", headers=bearer(admin)
    )
    assert again.status_code == 409
    with app.extensions["db_sessions"]() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.disable"))
    assert (entry.actor, entry.target, entry.region_code) == (
        "staff:city-admin",
        "clerk",
        "410721000000",
    )


def test_rotating_a_token_stops_the_old_one_and_the_new_one_works(
    app, with_regions, staff_token, live_server, http, clock
):
    admin = staff_token("admin", "410721", name="county-admin")
    old = staff_token("collector", "410721100201", name="village-collector")
    clerk_id = accounts_of(http, live_server, admin)["village-collector"]["id"]
    clock.advance(timedelta(days=100))  # expired: rotating is how it gets going again
    assert http.get(f"{live_server}/api/staff/v1/me", headers=bearer(old)).status_code == 401
    admin = staff_token("admin", "410721", name="county-admin-2")

    rotated = http.post(
        f"{live_server}/api/staff/v1/accounts/{clerk_id}/rotate", headers=bearer(admin)
    )
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["status"] == "active" and body["last_used_at"] is None
    assert body["expires_at"].startswith("2020-05-28")  # 90 days from 2020-02-28
    new = body["token"]
    assert http.get(f"{live_server}/api/staff/v1/me", headers=bearer(new)).status_code == 200
    assert http.get(f"{live_server}/api/staff/v1/me", headers=bearer(old)).status_code == 401
    listed = http.get(f"{live_server}/api/staff/v1/accounts", headers=bearer(admin)).json()
    assert all("token" not in account for account in listed)  # shown once, at rotation
    with app.extensions["db_sessions"]() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.rotate"))
    assert (entry.target, entry.region_code) == ("village-collector", "410721000000")


def test_a_county_admin_neither_sees_nor_touches_another_countys_accounts(
    with_regions, staff_token, live_server, http
):
    city = staff_token("admin", "410700", name="city-admin")
    county = staff_token("admin", "410721", name="county-admin")
    staff_token("viewer", "410721", name="mine")
    other = staff_token("viewer", "410724", name="theirs")
    everyone = accounts_of(http, live_server, city)
    assert set(everyone) == {"city-admin", "county-admin", "mine", "theirs"}
    assert set(accounts_of(http, live_server, county)) == {"county-admin", "mine"}

    theirs = everyone["theirs"]["id"]
    for action in ("disable", "rotate"):
        answer = http.post(
            f"{live_server}/api/staff/v1/accounts/{theirs}/{action}", headers=bearer(county)
        )
        assert answer.status_code == 404
        assert answer.json()["message"] == "no such staff account"
    city_admin = everyone["city-admin"]["id"]
    assert (
        http.post(
            f"{live_server}/api/staff/v1/accounts/{city_admin}/disable", headers=bearer(county)
        ).status_code
        == 404
    )
    assert http.get(f"{live_server}/api/staff/v1/me", headers=bearer(other)).status_code == 200
    viewer = http.get(f"{live_server}/api/staff/v1/accounts", headers=bearer(other))
    assert viewer.status_code == 403
    myself = everyone["county-admin"]["id"]
    own = http.post(f"{live_server}/api/staff/v1/accounts/{myself}/disable", headers=bearer(county))
    assert own.status_code == 422


def test_flask_staff_list_disable_and_rotate(app, with_regions, staff_token, live_server, http):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["staff", "create", "li", "--role", "agency", "--region", "410721"])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    staff_token("viewer", "410724", name="zhao")
    http.get(f"{live_server}/api/staff/v1/me", headers=bearer(token)).raise_for_status()

    listed = runner.invoke(args=["staff", "list", "--region", "410721"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].split()[:4] == ["name", "role", "region", "status"]
    assert [line.split()[:4] for line in lines[1:]] == [["li", "agency", "410721000000", "active"]]
    assert "2020-02-18" in lines[1]  # expires 90 days after 2019-11-20
    assert "2019-11-20" in lines[1].split("2020-02-18")[1]  # and was used today

    rotated = runner.invoke(args=["staff", "rotate", "li"])
    assert rotated.exit_code == 0, rotated.output
    new = rotated.output.strip().splitlines()[-1]
    assert http.get(f"{live_server}/api/staff/v1/me", headers=bearer(token)).status_code == 401
    assert http.get(f"{live_server}/api/staff/v1/me", headers=bearer(new)).status_code == 200

    disabled = runner.invoke(args=["staff", "disable", "li"])
    assert disabled.exit_code == 0, disabled.output
    assert http.get(f"{live_server}/api/staff/v1/me", headers=bearer(new)).status_code == 401
    assert "disabled" in runner.invoke(args=["staff", "list"]).output.splitlines()[1]

    unknown = runner.invoke(args=["staff", "disable", "nobody"])
    assert unknown.exit_code != 0 and "no staff account named 'nobody'" in unknown.output
    refused = runner.invoke(args=["staff", "rotate", "li"])
    assert refused.exit_code != 0 and "disabled" in refused.output
