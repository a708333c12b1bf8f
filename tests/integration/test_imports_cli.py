"""`flask import registrations|groups|students FILE` against a real database."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from backend.models import (
    AuditEntry,
    Enrollee,
    LedgerMessage,
    Registration,
    SpecialGroupMembership,
)
from tests.support import database
from tests.support.files import (
    GROUP_HEADER,
    REGISTRATION_HEADER,
    STUDENT_HEADER,
    many_registrations,
    registration,
    write_csv,
    write_xlsx,
)
from tests.support.people import make_id_number
from tests.support.regions import OTHER_VILLAGE, VILLAGE, VILLAGE_2, load_regions

pytestmark = pytest.mark.usefixtures("with_regions")


def run(app, kind, path, *args):
    return app.test_cli_runner().invoke(args=["import", kind, str(path), *args])


def snapshot(app, model) -> list[tuple]:
    """Every row and column of a table, timestamps included."""
    table = model.__table__
    with app.extensions["db_sessions"]() as session:
        return [tuple(r) for r in session.execute(select(table).order_by(table.c.id))]


def count(app, model) -> int:
    with app.extensions["db_sessions"]() as session:
        return session.scalar(select(func.count()).select_from(model))


def pushes(app) -> Counter[str]:
    """Push messages to the tax bureau per registration (by collection_no)."""
    with app.extensions["db_sessions"]() as session:
        return Counter(
            session.scalars(
                select(Registration.collection_no)
                .join(LedgerMessage, LedgerMessage.registration_id == Registration.id)
                .where(LedgerMessage.kind == "registration", LedgerMessage.status == "pending")
            )
        )


def rejected_lines(output: str) -> list[tuple[int, str]]:
    """(line, code) of each rejected row printed by the command."""
    found = []
    for text in output.splitlines():
        text = text.strip()
        if text.startswith("line "):
            line, rest = text[5:].split(":", 1)
            found.append((int(line), rest.split()[0]))
    return found


MIXED = [
    registration(1),  # line 2: good
    registration(2, id_number="410721198001010010"),  # 3: bad check character
    registration(3, scheme="pension", period_year=2019, birth="19700101"),  # 4: good
    registration(4, village="410721100299"),  # 5: unknown village
    registration(1, scheme="pension", period_year=2019),  # 6: good, same person as line 2
    registration(5, collection_no="M2020000001"),  # 7: collection_no of line 2
    registration(6, name=" "),  # 8: empty name
    registration(7, scheme="pension", period_year=2019, birth="20100101"),  # 9: too young
]
MIXED_REJECTED = [
    (3, "id_check_char"),
    (5, "unknown_village"),
    (7, "duplicate_collection_no"),
    (8, "empty_field"),
    (9, "pension_age"),
]


def test_good_rows_are_applied_and_bad_rows_reported_with_line_and_reason(app, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", REGISTRATION_HEADER, MIXED)
    result = run(app, "registrations", path)

    assert result.exit_code == 0, result.output
    assert "5 of 8 rows rejected" in result.stdout
    assert "read 8, inserted 3, updated 0, unchanged 0, rejected 5" in result.stdout
    assert rejected_lines(result.stdout) == MIXED_REJECTED
    assert "流水号与第2行重复" in result.stdout
    assert "身份证号校验位不正确" in result.stdout
    # The report shows masked ID numbers only.
    assert "410721198001010010" not in result.output
    assert "410721********0010" in result.stdout

    with app.extensions["db_sessions"]() as session:
        people = [(p.id_number, p.name) for p in session.scalars(select(Enrollee))]
        registrations = session.execute(
            select(Registration.collection_no, Registration.scheme, Registration.status)
        ).all()
    assert sorted(name for _, name in people) == ["测试一", "测试三"]
    assert sorted(registrations) == [
        ("M2020000001", "medical", "unpaid"),
        ("P2019000001", "pension", "unpaid"),
        ("P2019000003", "pension", "unpaid"),
    ]


def test_reimporting_the_same_file_changes_nothing(app, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", REGISTRATION_HEADER, MIXED)
    assert run(app, "registrations", path).exit_code == 0
    # One push to the bureau per registration added.
    assert pushes(app) == {"M2020000001": 1, "P2019000001": 1, "P2019000003": 1}
    before = snapshot(app, Enrollee), snapshot(app, Registration), snapshot(app, LedgerMessage)

    again = run(app, "registrations", path)

    assert again.exit_code == 0
    assert "read 8, inserted 0, updated 0, unchanged 3, rejected 5" in again.stdout
    assert (
        snapshot(app, Enrollee),
        snapshot(app, Registration),
        snapshot(app, LedgerMessage),
    ) == before


def test_a_changed_household_or_phone_updates_the_enrollee_and_an_empty_phone_keeps_it(
    app, tmp_path
):
    first = write_csv(tmp_path / "a.csv", REGISTRATION_HEADER, [registration(1, phone="110")])
    assert run(app, "registrations", first).exit_code == 0
    moved = write_csv(
        tmp_path / "b.csv",
        REGISTRATION_HEADER,
        [registration(1, household_no="H-NEW", phone="13900000000")],
    )
    result = run(app, "registrations", moved)
    assert "inserted 0, updated 1, unchanged 0" in result.stdout
    no_phone = write_csv(
        tmp_path / "c.csv", REGISTRATION_HEADER, [registration(1, household_no="H-NEW")]
    )
    assert "updated 0, unchanged 1" in run(app, "registrations", no_phone).stdout

    with app.extensions["db_sessions"]() as session:
        person = session.scalars(select(Enrollee)).one()
    assert (person.household_no, person.phone) == ("H-NEW", "13900000000")
    # The bureau is not sent household numbers or phones: no push beyond the first.
    assert pushes(app) == {"M2020000001": 1}


def test_a_lower_case_x_is_stored_upper_case(app, tmp_path):
    number = make_id_number(seq="001")
    assert number.endswith("X")
    path = write_csv(
        tmp_path / "x.csv", REGISTRATION_HEADER, [registration(1, id_number=number.lower())]
    )
    assert run(app, "registrations", path).exit_code == 0
    with app.extensions["db_sessions"]() as session:
        assert [p.id_number for p in session.scalars(select(Enrollee))] == [number]


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("plain.csv", lambda p, h, r: write_csv(p, h, r)),
        ("bom.csv", lambda p, h, r: write_csv(p, h, r, bom=True)),
        ("sheet.xlsx", write_xlsx),
    ],
)
def test_csv_with_or_without_bom_and_xlsx_import_alike(app, tmp_path, name, write):
    path = write(tmp_path / name, REGISTRATION_HEADER, MIXED)
    result = run(app, "registrations", path)
    assert result.exit_code == 0, result.output
    assert "read 8, inserted 3, updated 0, unchanged 0, rejected 5" in result.stdout
    assert rejected_lines(result.stdout) == MIXED_REJECTED
    assert count(app, Registration) == 3


def test_a_line_that_is_not_utf8_rolls_back_the_whole_file_and_is_named(app, tmp_path):
    path = write_csv(tmp_path / "gbk.csv", REGISTRATION_HEADER, many_registrations(2500))
    with path.open("ab") as f:  # line 2,502: written by a program that used GBK
        f.write("X1,410721198001010029,张三,medical,2020,410721100201,H1,\n".encode("gbk"))

    result = run(app, "registrations", path)

    assert result.exit_code != 0
    assert "line 2502" in result.stderr and "第2502行" in result.stderr
    assert "nothing was applied" in result.stderr
    assert count(app, Enrollee) == 0 and count(app, Registration) == 0
    with app.extensions["db_sessions"]() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "import.registrations"
    assert entry.detail["status"] == "failed"
    assert entry.detail["error"]["code"] == "not_utf8"
    assert entry.detail["error"]["line"] == 2502


def test_an_xlsx_missing_a_column_changes_nothing_and_names_the_column(app, tmp_path):
    header = [c for c in REGISTRATION_HEADER if c != "household_no"]
    rows = [[v for i, v in enumerate(registration(n)) if i != 6] for n in range(3)]
    path = write_xlsx(tmp_path / "short.xlsx", header, rows)

    result = run(app, "registrations", path)

    assert result.exit_code != 0
    assert "household_no" in result.stderr
    assert count(app, Enrollee) == 0


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("broken.xlsx", b"PK\x03\x04 this is no workbook", "bad_xlsx"),
        ("empty.csv", b"", "empty_file"),
        (
            "header.csv",
            b"collection_no,id_number,name,scheme,period_year,village_code,household_no\n",
            "no_rows",
        ),
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF", "unsupported_file_type"),
        ("junk.csv", bytes(range(256)) * 4, "binary_content"),
    ],
)
def test_files_that_cannot_be_imported_exit_non_zero_with_a_message(
    app, tmp_path, name, content, code
):
    path = tmp_path / name
    path.write_bytes(content)
    result = run(app, "registrations", path)
    assert result.exit_code == 1
    assert f"[{code}]" in result.stderr
    assert "nothing was applied" in result.stderr


def test_the_region_option_keeps_rows_inside_that_region(app, tmp_path):
    rows = [registration(1), registration(2, village=OTHER_VILLAGE)]
    path = write_csv(tmp_path / "r.csv", REGISTRATION_HEADER, rows)
    result = run(app, "registrations", path, "--region", "410721")
    assert rejected_lines(result.stdout) == [(3, "outside_region")]
    assert "不在您的管辖区域" in result.stdout
    assert count(app, Registration) == 1


def test_an_unknown_region_option_is_refused_before_reading_the_file(app, tmp_path):
    path = write_csv(tmp_path / "r.csv", REGISTRATION_HEADER, [registration(1)])
    result = run(app, "registrations", path, "--region", "419999")
    assert result.exit_code == 2
    assert "unknown region" in result.output
    assert count(app, Registration) == 0


def test_the_audit_log_records_who_imported_which_file_with_what_result(app, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", REGISTRATION_HEADER, MIXED)
    run(app, "registrations", path)
    with app.extensions["db_sessions"]() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor, entry.action, entry.target) == ("cli", "import.registrations", "mixed.csv")
    assert entry.region_code == "410700000000"
    assert entry.detail["status"] == "applied"
    assert entry.detail["counts"] == {
        "read": 8,
        "inserted": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 5,
    }


def test_stored_data_decides_name_collection_no_and_registration_conflicts(app, tmp_path):
    first = write_csv(
        tmp_path / "a.csv",
        REGISTRATION_HEADER,
        [registration(1), registration(2, collection_no="SHARED")],
    )
    assert run(app, "registrations", first).exit_code == 0
    rows = [
        registration(1, name="李四"),  # 2: ID of person 1 under another name
        registration(1, collection_no="M-OTHER"),  # 3: person 1 medical 2020 again
        registration(3, collection_no="SHARED"),  # 4: serial of person 2's registration
        registration(2, collection_no="SHARED"),  # 5: exactly what is stored
    ]
    result = run(app, "registrations", write_csv(tmp_path / "b.csv", REGISTRATION_HEADER, rows))
    assert rejected_lines(result.stdout) == [
        (2, "name_mismatch"),
        (3, "already_registered"),
        (4, "duplicate_collection_no"),
    ]
    assert "unchanged 1" in result.stdout


def test_the_same_person_must_look_the_same_on_every_line_of_a_file(app, tmp_path):
    rows = [
        registration(1),
        registration(1, scheme="pension", period_year=2019, phone="139"),
        registration(1, scheme="pension", period_year=2019, name="别人"),
    ]
    result = run(app, "registrations", write_csv(tmp_path / "p.csv", REGISTRATION_HEADER, rows))
    assert rejected_lines(result.stdout) == [(3, "person_conflict"), (4, "person_conflict")]
    assert "第2行" in result.stdout


TRICKY = [
    registration(1),
    registration(2),
    registration(1, scheme="pension", period_year=2019),
    registration(3, collection_no="M2020000002"),
    registration(2, household_no="OTHER"),
    registration(1, collection_no="M-AGAIN"),
    registration(4),
    registration(4),
    registration(5, id_number=make_id_number(seq="004"), name="测试五"),
]


def test_the_outcome_does_not_depend_on_how_the_file_is_cut_into_batches(app, tmp_path):
    path = write_csv(tmp_path / "t.csv", REGISTRATION_HEADER, TRICKY)

    def outcome(batch_size: int):
        result = run(app, "registrations", path, "--batch-size", str(batch_size))
        # The hash, not the sealed number: sealing takes a fresh nonce each time.
        people = sorted((row[1], *row[3:8]) for row in snapshot(app, Enrollee))
        registrations = sorted(row[2:7] for row in snapshot(app, Registration))
        return result.stdout, people, registrations

    one_by_one = outcome(1)
    database.wipe(app.extensions["db_engine"])
    with app.extensions["db_sessions"]() as session:
        load_regions(session)
    all_at_once = outcome(2000)

    assert one_by_one == all_at_once
    assert rejected_lines(one_by_one[0]) == [
        (5, "duplicate_collection_no"),
        (6, "person_conflict"),
        (7, "already_registered"),
        (9, "duplicate_collection_no"),
        (10, "person_conflict"),
    ]


def test_a_registration_already_paid_is_not_moved_to_another_village(app, tmp_path):
    path = write_csv(tmp_path / "a.csv", REGISTRATION_HEADER, [registration(1), registration(2)])
    run(app, "registrations", path)
    with app.extensions["db_sessions"]() as session:
        session.execute(
            update(Registration)
            .where(Registration.collection_no == "M2020000001")
            .values(status="paid")
        )
        session.commit()
    moved = write_csv(
        tmp_path / "b.csv",
        REGISTRATION_HEADER,
        [registration(1, village=VILLAGE_2), registration(2, village=VILLAGE_2)],
    )
    result = run(app, "registrations", moved)
    assert rejected_lines(result.stdout) == [(2, "registration_locked")]
    assert "updated 1" in result.stdout
    with app.extensions["db_sessions"]() as session:
        query = select(Registration.collection_no, Registration.village_code)
        villages = dict(session.execute(query).tuples().all())
    assert villages == {"M2020000001": VILLAGE, "M2020000002": VILLAGE_2}
    # The moved registration is pushed again; the locked one is not.
    assert pushes(app) == {"M2020000001": 1, "M2020000002": 2}


def test_the_report_option_writes_the_rejected_rows_to_a_csv_excel_opens(app, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", REGISTRATION_HEADER, MIXED)
    report = tmp_path / "rejected.csv"
    result = run(app, "registrations", path, "--report", str(report))
    assert result.exit_code == 0
    assert f"5 written to {report}" in result.stdout
    data = report.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to see UTF-8
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["line", "code", "id_number_masked", "reason"]
    assert [(int(r[0]), r[1]) for r in rows[1:]] == MIXED_REJECTED
    assert rows[1][2] == "410721********0010"
    assert "410721198001010010" not in data.decode("utf-8-sig")


def test_a_generated_file_of_20000_rows_imports_with_progress_lines(app, tmp_path):
    path = write_csv(tmp_path / "big.csv", REGISTRATION_HEADER, many_registrations(20_000))
    result = run(app, "registrations", path, "--progress-every", "5000")

    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if line.startswith("read ")]
    assert len(progress) == 4
    assert progress[-1].startswith("read 20,000 rows: 0 rejected so far")
    assert "rows/s" in progress[0]
    assert "read 20,000, inserted 20,000, updated 0, unchanged 0, rejected 0" in result.stdout
    assert count(app, Enrollee) == 20_000
    assert count(app, Registration) == 20_000


# Special groups


def registered(app, tmp_path, *rows):
    path = write_csv(tmp_path / "registered.csv", REGISTRATION_HEADER, rows)
    assert run(app, "registrations", path).exit_code == 0


def test_special_groups_attach_to_registered_enrollees_with_the_same_name(app, tmp_path):
    registered(app, tmp_path, registration(1), registration(2, village=OTHER_VILLAGE))
    person_1, person_2 = make_id_number(seq="001"), make_id_number(area="410724", seq="002")
    rows = [
        [person_1, "测试一", "dibao", 2019, "民政"],  # 2: good
        [person_1, "测试一", "disabled_severe", 2019, "残联"],  # 3: good
        [person_1, "测试壹", "poverty", 2019, "扶贫办"],  # 4: wrong name
        [make_id_number(seq="009"), "测试九", "tekun", 2019, "民政"],  # 5: not registered
        [person_1, "测试一", "veteran", 2019, "民政"],  # 6: unknown group
        [person_1, "测试一", "dibao", 2019, "民政"],  # 7: repeats line 2
        [person_2, "测试二", "orphan", 2019, "民政"],  # 8: good
    ]
    path = write_csv(tmp_path / "groups.csv", GROUP_HEADER, rows)

    result = run(app, "groups", path)

    assert result.exit_code == 0
    assert rejected_lines(result.stdout) == [
        (4, "name_mismatch"),
        (5, "not_in_your_region_or_not_found"),
        (6, "bad_group"),
        (7, "duplicate_row"),
    ]
    assert "read 7, inserted 3" in result.stdout
    with app.extensions["db_sessions"]() as session:
        stored = [
            (person.id_number, group, year)
            for person, group, year in session.execute(
                select(Enrollee, SpecialGroupMembership.group, SpecialGroupMembership.year)
                .join(Enrollee, Enrollee.id == SpecialGroupMembership.enrollee_id)
                .order_by(SpecialGroupMembership.group)
            )
        ]
    assert stored == [
        (person_1, "dibao", 2019),
        (person_1, "disabled_severe", 2019),
        (person_2, "orphan", 2019),
    ]

    before = snapshot(app, SpecialGroupMembership)
    again = run(app, "groups", path)
    assert "inserted 0, updated 0, unchanged 3, rejected 4" in again.stdout
    assert snapshot(app, SpecialGroupMembership) == before


def test_a_group_list_from_another_source_updates_the_source(app, tmp_path):
    registered(app, tmp_path, registration(1))
    person = make_id_number(seq="001")
    first = write_csv(
        tmp_path / "g1.csv", GROUP_HEADER, [[person, "测试一", "dibao", 2019, "民政"]]
    )
    run(app, "groups", first)
    second = write_csv(
        tmp_path / "g2.csv", GROUP_HEADER, [[person, "测试一", "dibao", 2019, "民政局"]]
    )
    assert "updated 1" in run(app, "groups", second).stdout
    with app.extensions["db_sessions"]() as session:
        assert session.scalars(select(SpecialGroupMembership.source)).all() == ["民政局"]


def test_a_county_cannot_put_people_of_another_county_into_a_group(app, tmp_path):
    registered(app, tmp_path, registration(2, village=OTHER_VILLAGE))
    person = make_id_number(area="410724", seq="002")
    path = write_csv(tmp_path / "g.csv", GROUP_HEADER, [[person, "测试二", "dibao", 2019, "民政"]])
    result = run(app, "groups", path, "--region", "410721")
    assert rejected_lines(result.stdout) == [(2, "not_in_your_region_or_not_found")]
    assert count(app, SpecialGroupMembership) == 0


def test_a_membership_that_changes_a_price_pushes_the_unpaid_registrations_it_reprices(
    app, tmp_path
):
    registered(
        app,
        tmp_path,
        registration(1),  # medical 2020: collected in 2019
        registration(1, scheme="pension", period_year=2019),
        registration(2),  # paid below
        registration(3),
        registration(4, scheme="pension", period_year=2019),
        registration(5),
    )
    with app.extensions["db_sessions"]() as session:
        session.execute(
            update(Registration)
            .where(Registration.collection_no == "M2020000002")
            .values(status="paid")
        )
        session.commit()
    added = pushes(app)
    person = {n: make_id_number(seq=f"{n:03d}") for n in range(1, 6)}
    rows = [
        [person[1], "测试一", "dibao", 2019, "民政"],  # both of person 1's registrations
        [person[2], "测试二", "tekun", 2019, "民政"],  # paid: its price is settled
        [person[3], "测试三", "orphan", 2019, "民政"],  # medical: the whole share
        [person[4], "测试四", "orphan", 2019, "民政"],  # pension does not help orphans
        [person[5], "测试五", "dibao", 2018, "民政"],  # a year no registration is priced for
    ]
    path = write_csv(tmp_path / "groups.csv", GROUP_HEADER, rows)
    assert "inserted 5" in run(app, "groups", path).stdout
    assert pushes(app) - added == {"M2020000001": 1, "P2019000001": 1, "M2020000003": 1}

    assert "unchanged 5" in run(app, "groups", path).stdout
    # Helped as much as by dibao already: the price stays, no push.
    more = [[person[1], "测试一", "disabled_severe", 2019, "残联"]]
    assert (
        "inserted 1"
        in run(app, "groups", write_csv(tmp_path / "g2.csv", GROUP_HEADER, more)).stdout
    )
    assert pushes(app) - added == {"M2020000001": 1, "P2019000001": 1, "M2020000003": 1}


# Students


def test_students_are_registered_for_medical_with_school_and_remaining_years(app, tmp_path):
    rows = [
        [*registration(1, birth="20050301"), "S001", 3],
        [*registration(2, birth="20050301"), "S001", 9],  # 3: too many years
        [*registration(3, birth="20050301", scheme="pension", period_year=2019), "S001", 3],
    ]
    path = write_csv(tmp_path / "students.csv", STUDENT_HEADER, rows)
    result = run(app, "students", path)

    assert rejected_lines(result.stdout) == [(3, "bad_study_years"), (4, "student_not_medical")]
    with app.extensions["db_sessions"]() as session:
        reg = session.scalars(select(Registration)).one()
    assert (reg.scheme, reg.school_code, reg.study_years_left, reg.is_student) == (
        "medical",
        "S001",
        3,
        True,
    )

    assert "unchanged 1" in run(app, "students", path).stdout
    assert pushes(app) == {"M2020000001": 1}
    rows[0][-1] = 2  # a year later the school sends the list again
    result = run(app, "students", write_csv(tmp_path / "s2.csv", STUDENT_HEADER, rows))
    assert "updated 1" in result.stdout
    with app.extensions["db_sessions"]() as session:
        assert session.scalars(select(Registration.study_years_left)).all() == [2]
    assert pushes(app) == {"M2020000001": 2}


def test_an_unwritable_report_path_is_refused_before_anything_is_imported(app, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", REGISTRATION_HEADER, MIXED)
    result = run(app, "registrations", path, "--report", str(tmp_path / "missing" / "r.csv"))
    assert result.exit_code == 2
    assert "cannot write" in result.output
    assert count(app, Registration) == 0
