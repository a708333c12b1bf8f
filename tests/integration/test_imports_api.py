"""POST /api/staff/v1/imports/{kind}: an agency uploads a file over HTTP and gets the report."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from backend.models import AuditEntry, Enrollee, Registration, SpecialGroupMembership
from tests.support.files import (
    GROUP_HEADER,
    REGISTRATION_HEADER,
    STUDENT_HEADER,
    registration,
    write_csv,
    write_xlsx,
)
from tests.support.people import make_id_number
from tests.support.regions import OTHER_VILLAGE, VILLAGE_2

UPLOAD_LIMIT = 256 * 1024

pytestmark = pytest.mark.usefixtures("with_regions")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "MAX_CONTENT_LENGTH": UPLOAD_LIMIT}


@pytest.fixture
def agency(staff_token):
    """Headers of an agency staff member of county 410721 (新乡县)."""
    token = staff_token("agency", "410721", "wang")
    return {"Authorization": f"Bearer {token}"}


def upload(http, live_server, headers, path_or_bytes, *, kind="registrations", name=None):
    if isinstance(path_or_bytes, bytes):
        content, name = path_or_bytes, name or "upload.csv"
    else:
        content, name = path_or_bytes.read_bytes(), name or path_or_bytes.name
    return http.post(
        f"{live_server}/api/staff/v1/imports/{kind}",
        headers=headers,
        files={"file": (name, io.BytesIO(content))},
    )


def count(app, model) -> int:
    with app.extensions["db_sessions"]() as session:
        return session.scalar(select(func.count()).select_from(model))


def snapshot(app, model) -> list[tuple]:
    table = model.__table__
    with app.extensions["db_sessions"]() as session:
        return [tuple(r) for r in session.execute(select(table).order_by(table.c.id))]


ROWS = [
    registration(1),  # 2
    registration(2, id_number="410721198001010010"),  # 3: bad check character
    registration(3, village=OTHER_VILLAGE),  # 4: 获嘉县, not this staff member's county
    registration(4, scheme="pension", period_year=2019),  # 5
    registration(5, scheme="pension", period_year=2019, birth="19500101"),  # 6: too old
]


def test_an_agency_upload_applies_good_rows_and_reports_bad_ones(
    app, live_server, http, agency, tmp_path
):
    answer = upload(
        http, live_server, agency, write_csv(tmp_path / "day1.csv", REGISTRATION_HEADER, ROWS)
    )

    assert answer.status_code == 200
    report = answer.json()
    assert report["kind"] == "registrations" and report["file_name"] == "day1.csv"
    assert report["counts"] == {
        "read": 5,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 3,
    }
    assert [(r["line"], r["code"]) for r in report["rejected"]] == [
        (3, "id_check_char"),
        (4, "outside_region"),
        (6, "pension_age"),
    ]
    outside = report["rejected"][1]
    assert "不在您的管辖区域" in outside["reason"]
    assert (
        outside["id_number_masked"]
        == "410724********" + make_id_number(area="410724", seq="003")[-4:]
    )
    assert report["rejected_truncated"] is False
    # No full ID number anywhere in the answer.
    for row in ROWS:
        assert row[1] not in answer.text
    assert count(app, Registration) == 2


def test_uploading_the_same_file_again_changes_nothing(app, live_server, http, agency, tmp_path):
    path = write_csv(tmp_path / "day1.csv", REGISTRATION_HEADER, ROWS)
    upload(http, live_server, agency, path)
    before = snapshot(app, Enrollee), snapshot(app, Registration)

    report = upload(http, live_server, agency, path).json()

    assert report["counts"]["unchanged"] == 2
    assert report["counts"]["inserted"] == report["counts"]["updated"] == 0
    assert (snapshot(app, Enrollee), snapshot(app, Registration)) == before


def test_an_xlsx_upload_with_a_lower_case_x(app, live_server, http, agency, tmp_path):
    number = make_id_number(seq="001")
    path = write_xlsx(
        tmp_path / "登记.xlsx",
        REGISTRATION_HEADER,
        [registration(1, id_number=number.lower()), registration(2, village=VILLAGE_2)],
    )
    report = upload(http, live_server, agency, path).json()
    assert report["counts"]["inserted"] == 2
    assert report["file_name"] == "登记.xlsx"
    with app.extensions["db_sessions"]() as session:
        assert number in [p.id_number for p in session.scalars(select(Enrollee))]


def test_the_audit_log_names_the_staff_member_file_and_counts(
    app, live_server, http, agency, tmp_path
):
    upload(http, live_server, agency, write_csv(tmp_path / "day1.csv", REGISTRATION_HEADER, ROWS))
    with app.extensions["db_sessions"]() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "import.registrations")
        ).one()
    assert (entry.actor, entry.target, entry.region_code) == ("wang", "day1.csv", "410721000000")
    assert entry.detail["counts"]["inserted"] == 2
    assert entry.detail["counts"]["rejected"] == 3


def test_a_failed_upload_is_audited_although_nothing_was_applied(app, live_server, http, agency):
    data = (",".join(REGISTRATION_HEADER) + "\nA1,x,张三,medical,2020,x,x,\n").encode("gbk")
    answer = upload(http, live_server, agency, data, name="gbk.csv")
    assert answer.status_code == 422
    with app.extensions["db_sessions"]() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "import.registrations")
        ).one()
    assert entry.actor == "wang"
    assert entry.detail["status"] == "failed"
    assert entry.detail["error"]["code"] == "not_utf8"


def test_a_non_utf8_line_deep_in_the_file_rolls_everything_back_and_is_named(
    app, live_server, http, agency, tmp_path
):
    path = write_csv(
        tmp_path / "mixed.csv", REGISTRATION_HEADER, [registration(n) for n in range(300)]
    )
    data = path.read_bytes() + "Z1,410721198001010029,张三,medical,2020,410721100201,H1,\n".encode(
        "gbk"
    )

    answer = upload(http, live_server, agency, data, name="mixed.csv")

    assert answer.status_code == 422
    body = answer.json()
    assert body["errors"]["file"] == {
        "code": "not_utf8",
        "line": 302,
        "message": body["errors"]["file"]["message"],
    }
    assert "第302行" in body["message"] and "未写入任何数据" in body["message"]
    assert count(app, Enrollee) == 0


def test_an_xlsx_missing_a_column_is_refused_naming_it(app, live_server, http, agency, tmp_path):
    header = [c for c in REGISTRATION_HEADER if c != "scheme"]
    rows = [[v for i, v in enumerate(registration(n)) if i != 3] for n in range(3)]
    answer = upload(http, live_server, agency, write_xlsx(tmp_path / "a.xlsx", header, rows))
    assert answer.status_code == 422
    assert "scheme" in answer.json()["message"]
    assert count(app, Enrollee) == 0


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("list.pdf", b"%PDF-1.4 whatever", "unsupported_file_type"),
        ("list.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "unsupported_file_type"),
        ("empty.csv", b"", "empty_file"),
        ("header.csv", ",".join(REGISTRATION_HEADER).encode() + b"\r\n", "no_rows"),
        ("junk.csv", bytes(range(256)) * 64, "binary_content"),
        ("broken.xlsx", b"PK\x03\x04" + bytes(range(256)) * 8, "bad_xlsx"),
        ("text.xlsx", b"collection_no,id_number\n", "bad_xlsx"),
    ],
)
def test_files_a_person_might_upload_by_mistake_get_422_never_500(
    app, live_server, http, agency, name, content, code
):
    answer = upload(http, live_server, agency, content, name=name)
    assert answer.status_code == 422
    body = answer.json()
    assert body["errors"]["file"]["code"] == code
    assert body["message"]
    assert count(app, Enrollee) == 0


def test_a_request_without_a_file_gets_422(live_server, http, agency):
    answer = http.post(f"{live_server}/api/staff/v1/imports/registrations", headers=agency)
    assert answer.status_code == 422
    assert "file" in answer.json()["errors"]["files"]


def test_a_file_over_the_upload_limit_gets_413(app, live_server, http, agency):
    data = ",".join(REGISTRATION_HEADER).encode() + b"\n" + b"x" * UPLOAD_LIMIT
    answer = upload(http, live_server, agency, data, name="big.csv")
    assert answer.status_code == 413
    assert "上传上限" in answer.json()["message"]


def test_an_unknown_kind_is_404(live_server, http, agency):
    answer = http.post(
        f"{live_server}/api/staff/v1/imports/payments",
        headers=agency,
        files={"file": ("a.csv", b"a\n1\n")},
    )
    assert answer.status_code == 404


def test_only_agency_and_admin_staff_may_import(live_server, http, staff_token, tmp_path):
    path = write_csv(tmp_path / "a.csv", REGISTRATION_HEADER, [registration(1)])
    anonymous = upload(http, live_server, {}, path)
    assert anonymous.status_code == 401
    viewer = {"Authorization": f"Bearer {staff_token('viewer', '410721')}"}
    assert upload(http, live_server, viewer, path).status_code == 403
    admin = {"Authorization": f"Bearer {staff_token('admin', '410700')}"}
    assert upload(http, live_server, admin, path).status_code == 200


def test_a_city_admin_may_import_for_every_county(live_server, http, staff_token, tmp_path):
    admin = {"Authorization": f"Bearer {staff_token('admin', '410700')}"}
    path = write_csv(tmp_path / "a.csv", REGISTRATION_HEADER, ROWS)
    report = upload(http, live_server, admin, path).json()
    assert report["counts"]["inserted"] == 3
    assert "outside_region" not in {r["code"] for r in report["rejected"]}


def test_the_rejected_list_is_capped_but_the_counts_stay_exact(live_server, http, agency, tmp_path):
    rows = [
        registration(n % 900, village="410721100299", collection_no=f"U{n}") for n in range(1005)
    ]
    report = upload(
        http, live_server, agency, write_csv(tmp_path / "bad.csv", REGISTRATION_HEADER, rows)
    ).json()
    assert report["counts"]["rejected"] == 1005
    assert len(report["rejected"]) == 1000
    assert report["rejected_truncated"] is True
    assert report["rejected"][-1]["line"] == 1001


def test_unknown_columns_come_back_as_a_warning(live_server, http, agency, tmp_path):
    path = write_csv(tmp_path / "a.csv", [*REGISTRATION_HEADER, "备注"], [[*registration(1), "x"]])
    report = upload(http, live_server, agency, path).json()
    assert report["counts"]["inserted"] == 1
    assert report["warnings"] and "备注" in report["warnings"][0]


def test_groups_and_students_over_http(app, live_server, http, agency, tmp_path):
    students = write_csv(
        tmp_path / "students.csv",
        STUDENT_HEADER,
        [
            [*registration(1, birth="20060101"), "S01", 3],
            [*registration(2, birth="20060101"), "S01", 0],
        ],
    )
    report = upload(http, live_server, agency, students, kind="students").json()
    assert report["kind"] == "students"
    assert report["counts"]["inserted"] == 1
    assert [(r["line"], r["code"]) for r in report["rejected"]] == [(3, "bad_study_years")]

    person = make_id_number(birth="20060101", seq="001")
    groups = write_csv(
        tmp_path / "groups.csv",
        GROUP_HEADER,
        [[person, "测试一", "orphan", 2019, "民政"], [person, "测试二", "dibao", 2019, "民政"]],
    )
    report = upload(http, live_server, agency, groups, kind="groups").json()
    assert report["counts"] == {
        "read": 2,
        "inserted": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert report["rejected"][0]["code"] == "name_mismatch"
    assert count(app, SpecialGroupMembership) == 1


def test_the_import_endpoint_is_in_the_openapi_document(live_server, http):
    spec = http.get(f"{live_server}/api/openapi.json").json()
    operation = spec["paths"]["/api/staff/v1/imports/{kind}"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]


def test_two_uploads_of_the_same_file_at_once_store_it_once(app, live_server, agency, tmp_path):
    rows = [registration(n % 1000, birth=f"19{60 + n // 1000}0101") for n in range(3000)]
    for n, row in enumerate(rows):
        row[0] = f"C{n:05d}"
    path = write_csv(tmp_path / "same.csv", REGISTRATION_HEADER, rows)

    def send(_):
        with requests.Session() as session:
            return upload(session, live_server, agency, path)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(send, range(2)))

    # Either the second waited and found everything stored, or it lost the race and was told
    # to retry; never a 500 and never a half-applied file.
    assert sorted(a.status_code for a in answers) in ([200, 200], [200, 409])
    assert count(app, Registration) == 3000
    for answer in answers:
        if answer.status_code == 409:
            assert "请重新导入" in answer.json()["message"]
        else:
            assert answer.json()["counts"]["rejected"] == 0


def test_a_county_never_touches_a_person_of_another_county_and_learns_nothing_of_them(
    app, live_server, http, agency, staff_token, tmp_path
):
    """Their phone and household stay as the other county stored them, and every row about them
    gets the answer an ID number stored nowhere gets, whether the name matches or not."""
    elsewhere = registration(7, village=OTHER_VILLAGE, phone="13900000007")
    theirs = {"Authorization": f"Bearer {staff_token('agency', '410724', 'zhao')}"}
    path = write_csv(tmp_path / "theirs.csv", REGISTRATION_HEADER, [elsewhere])
    assert upload(http, live_server, theirs, path).json()["counts"]["inserted"] == 1
    before = snapshot(app, Enrollee), snapshot(app, Registration)
    person, name = elsewhere[1], elsewhere[2]
    nobody = make_id_number(area="410721", seq="099")

    rows = [
        # 2, 3: the person, moved into this county, with a new phone and household; right and
        # wrong name.
        registration(7, id_number=person, name=name, household_no="H-MINE", phone="13800000000"),
        registration(7, id_number=person, name="某某", collection_no="M-WRONG-NAME"),
    ]
    report = upload(
        http, live_server, agency, write_csv(tmp_path / "r.csv", REGISTRATION_HEADER, rows)
    ).json()
    groups = [
        [person, name, "dibao", 2019, "民政"],  # 2: the right name
        [person, "某某", "dibao", 2019, "民政"],  # 3: a wrong name
        [nobody, "某某", "dibao", 2019, "民政"],  # 4: stored nowhere
    ]
    group_report = upload(
        http,
        live_server,
        agency,
        write_csv(tmp_path / "g.csv", GROUP_HEADER, groups),
        kind="groups",
    ).json()

    answers = {(r["code"], r["reason"]) for r in report["rejected"] + group_report["rejected"]}
    assert len(answers) == 1 and answers.pop()[0] == "not_in_your_region_or_not_found"
    assert report["counts"]["rejected"] == 2 and group_report["counts"]["rejected"] == 3
    assert (snapshot(app, Enrollee), snapshot(app, Registration)) == before
    assert count(app, SpecialGroupMembership) == 0
