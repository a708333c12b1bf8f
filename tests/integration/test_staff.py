"""Staff accounts: created on the command line, authenticated by token, limited by role and region."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from backend.models import AuditEntry, Enrollee, Registration, StaffUser
from backend.models.registrations import new_ref
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
