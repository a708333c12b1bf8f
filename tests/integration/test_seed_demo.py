"""`flask seed-demo` against a real database: what it loads, what it prints, and that it can be rerun."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import delete, func, select, update

from backend.models import (
    AuditEntry,
    Enrollee,
    LedgerMessage,
    Region,
    Registration,
    SpecialGroupMembership,
    StaffUser,
)
from backend.seed import loader
from backend.seed.population import people, showcase
from backend.seed.regions import region_tree

SIZE = 400  # big enough that every kind of showcase person turns up (seed 2019)
COUNTIES = {
    "410702000000": "红旗区",
    "410703000000": "卫滨区",
    "410704000000": "凤泉区",
    "410711000000": "牧野区",
    "410721000000": "新乡县",
    "410724000000": "获嘉县",
    "410725000000": "原阳县",
    "410726000000": "延津县",
    "410727000000": "封丘县",
    "410781000000": "卫辉市",
    "410782000000": "辉县市",
    "410783000000": "长垣市",
}
PAIR = re.compile(r"(\d{17}[\dX])\s+(\S+)\s+(\S.*)$")


@pytest.fixture
def credentials(tmp_path):
    return tmp_path / "demo-credentials.txt"


@pytest.fixture
def seed(app, credentials):
    def run(*args: str) -> str:
        result = app.test_cli_runner().invoke(
            args=["seed-demo", "--credentials-file", str(credentials), *args]
        )
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
        return result.output

    return run


def snapshot(app) -> dict:
    with app.extensions["db_sessions"]() as s:

        def rows(*columns):
            return s.execute(select(*columns).order_by(*columns)).all()

        return {
            "regions": rows(Region.code, Region.name, Region.level, Region.parent_code),
            "enrollees": rows(Enrollee.id, Enrollee.id_hash, Enrollee.name, Enrollee.updated_at),
            "registrations": rows(
                Registration.id,
                Registration.ref,
                Registration.collection_no,
                Registration.status,
                Registration.updated_at,
            ),
            "memberships": rows(SpecialGroupMembership.id, SpecialGroupMembership.group),
            "staff": rows(StaffUser.name, StaffUser.token_hash),
            "audit": s.scalar(select(func.count()).select_from(AuditEntry)),
        }


def printed_pairs(output: str) -> list[tuple[str, str, str]]:
    return [m.groups() for line in output.splitlines() if (m := PAIR.search(line))]


def test_the_regions_api_serves_the_twelve_counties_and_their_townships(seed, live_server, http):
    seed("--size", "50")

    counties = http.get(f"{live_server}/api/mp/v1/regions")
    assert counties.status_code == 200
    assert {c["code"]: c["name"] for c in counties.json()} == COUNTIES
    assert {c["level"] for c in counties.json()} == {"county"}

    townships = http.get(f"{live_server}/api/mp/v1/regions", params={"parent": "410721000000"})
    assert townships.status_code == 200
    expected = [(r.code, r.name) for r in region_tree() if r.parent_code == "410721000000"]
    assert [(t["code"], t["name"]) for t in townships.json()] == expected
    assert townships.json()[0]["code"] == "410721100000"
    assert all(t["level"] == "township" for t in townships.json())

    villages = http.get(f"{live_server}/api/mp/v1/regions", params={"parent": "410721100000"})
    assert len(villages.json()) >= 5
    assert all(v["code"].startswith("410721100") for v in villages.json())


def test_seeding_loads_the_people_with_their_registrations(app, seed):
    output = seed("--size", str(SIZE))
    assert f"{SIZE:,} people" in output
    expected = list(people(2019, SIZE))
    with app.extensions["db_sessions"]() as s:
        stored = {p.id_number: p.name for p in s.scalars(select(Enrollee))}
        refs = set(s.scalars(select(Registration.ref)))
        statuses = set(s.scalars(select(Registration.status)))
        groups = s.scalar(select(func.count()).select_from(SpecialGroupMembership))
    assert stored == {p.id_number: p.name for p in expected}
    assert refs == {r.ref for p in expected for r in p.registrations}
    assert statuses == {"unpaid"}
    assert groups == sum(len(p.groups) for p in expected) > 0


def test_running_it_again_changes_nothing_and_says_so(app, seed):
    first = seed("--size", str(SIZE))
    before = snapshot(app)

    again = seed("--size", str(SIZE))

    assert "already loaded" in again
    assert snapshot(app) == before
    assert printed_pairs(again) == printed_pairs(first)  # the same pairs every time


def test_every_printed_pair_is_in_the_database_as_described(app, seed):
    output = seed("--size", str(SIZE))
    pairs = printed_pairs(output)
    picks = showcase(2019, SIZE)
    assert len(pairs) == 5 + len(picks.household.members)
    with app.extensions["db_sessions"]() as s:
        for id_number, name, _ in pairs:
            person = s.scalar(select(Enrollee).where(Enrollee.numbered(id_number)))
            assert person is not None and person.name == name

        def groups_of(id_number):
            return set(
                s.scalars(
                    select(SpecialGroupMembership.group)
                    .join(Enrollee, Enrollee.id == SpecialGroupMembership.enrollee_id)
                    .where(Enrollee.numbered(id_number))
                )
            )

        def registrations_of(id_number):
            return s.execute(
                select(Registration.scheme, Registration.school_code)
                .join(Enrollee, Enrollee.id == Registration.enrollee_id)
                .where(Enrollee.numbered(id_number))
            ).all()

        assert groups_of(picks.dibao.id_number) == {"dibao"}
        assert groups_of(picks.poverty.id_number) == {"poverty"}
        assert sorted(registrations_of(picks.ordinary.id_number)) == [
            ("medical", None),
            ("pension", None),
        ]
        ((scheme, school),) = registrations_of(picks.student.id_number)
        assert scheme == "medical" and school
        assert registrations_of(picks.senior.id_number) == [("medical", None)]
        household = {
            (p.id_number, p.household_no)
            for p in s.scalars(
                select(Enrollee).where(Enrollee.household_no == picks.household.household_no)
            )
        }
    assert household == {
        (m.id_number, picks.household.household_no) for m in picks.household.members
    }

    lines = dict((number, text) for number, _, text in pairs)
    assert "医疗2020 应缴 250 元" in lines[picks.ordinary.id_number]
    assert "养老2019 最低档 200 元" in lines[picks.ordinary.id_number]
    assert "医疗2020 应缴 150 元" in lines[picks.dibao.id_number]
    assert "医疗2020 应缴 0 元" in lines[picks.poverty.id_number]
    assert "不参加养老" in lines[picks.senior.id_number]


def test_demo_staff_tokens_are_written_once_and_work_over_http(
    seed, credentials, live_server, http
):
    first = seed("--size", "50")
    entries = {
        line.split()[0]: line.split()
        for line in credentials.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert set(entries) == {"demo-admin", "demo-agency-410721", "demo-collector"}
    assert credentials.stat().st_mode & 0o077 == 0  # secrets: owner only
    for name, role, region, token in entries.values():
        assert token in first  # shown on first creation
        me = http.get(
            f"{live_server}/api/staff/v1/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.status_code == 200
        assert me.json() == {
            "name": name,
            "role": role,
            "region_code": region,
            "department": None,
        }
    assert entries["demo-admin"][1:3] == ["admin", "410700000000"]
    assert entries["demo-agency-410721"][1:3] == ["agency", "410721000000"]
    assert entries["demo-collector"][1:3] == ["collector", "410782102002"]

    again = seed("--size", "50")
    assert str(credentials) in again
    assert all(token not in again for *_, token in entries.values())


def test_a_bigger_size_adds_only_the_missing_people(app, seed):
    seed("--size", "150")
    with app.extensions["db_sessions"]() as s:
        first = {(p.id, p.id_number) for p in s.scalars(select(Enrollee))}

    output = seed("--size", str(SIZE))

    assert f"{SIZE - 150:,} people" in output
    with app.extensions["db_sessions"]() as s:
        now = {(p.id, p.id_number) for p in s.scalars(select(Enrollee))}
    assert first < now
    assert {n for _, n in now} == {p.id_number for p in people(2019, SIZE)}


def test_an_interrupted_seed_is_finished_by_running_it_again(app, seed):
    engine = app.extensions["db_engine"]
    loader.upsert_regions(engine, region_tree())

    def stream_cut_at(index):
        for person in people(2019, SIZE):
            if person.index == index:
                raise KeyboardInterrupt
            yield person

    with pytest.raises(KeyboardInterrupt):
        loader.load_people(
            engine, stream_cut_at(250), now=app.extensions["clock"].now(), batch_size=100
        )
    assert loader.counts(engine).enrollees == 200  # two whole batches, nothing half-written

    seed("--size", str(SIZE), "--batch-size", "100")

    expected = list(people(2019, SIZE))
    with app.extensions["db_sessions"]() as s:
        refs = set(s.scalars(select(Registration.ref)))
        groups = s.scalar(select(func.count()).select_from(SpecialGroupMembership))
    assert loader.counts(engine).enrollees == SIZE
    assert refs == {r.ref for p in expected for r in p.registrations}
    assert groups == sum(len(p.groups) for p in expected)


def test_regions_are_corrected_even_when_people_exist(app, seed):
    seed("--size", "50")
    village = next(r for r in region_tree() if r.level == "village")
    with app.extensions["db_sessions"]() as s:
        s.execute(update(Region).where(Region.code == village.code).values(name="改过的村"))
        s.commit()

    output = seed("--size", "50")

    assert "1 updated" in output
    with app.extensions["db_sessions"]() as s:
        assert s.get(Region, village.code).name == village.name


def test_a_seed_over_someone_elses_number_leaves_that_person_alone(app, seed):
    engine = app.extensions["db_engine"]
    loader.upsert_regions(engine, region_tree())
    first = next(iter(people(2019, 1)))
    with app.extensions["db_sessions"]() as s:
        s.add(
            Enrollee(
                id_number=first.id_number,
                name="另一个人",
                birth_date=first.birth_date,
                village_code=first.village_code,
            )
        )
        s.commit()

    seed("--size", "50")

    with app.extensions["db_sessions"]() as s:
        stranger = s.scalar(select(Enrollee).where(Enrollee.numbered(first.id_number)))
        assert stranger.name == "另一个人"
        assert (
            s.scalars(select(Registration).where(Registration.enrollee_id == stranger.id)).all()
            == []
        )
        assert s.scalar(select(func.count()).select_from(Enrollee)) == 50


def test_full_id_numbers_and_names_never_reach_the_logs(seed, caplog):
    caplog.set_level(logging.DEBUG)
    output = seed("--size", str(SIZE))
    shown = printed_pairs(output)
    assert shown
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for id_number, name, _ in shown:
        assert id_number not in logged
        assert name not in logged


def test_deleting_the_people_and_seeding_again_restores_them(app, seed):
    seed("--size", "50")
    with app.extensions["db_sessions"]() as s:
        s.execute(delete(LedgerMessage))  # the registrations' pushes
        s.execute(delete(Registration))
        s.execute(delete(SpecialGroupMembership))
        s.execute(delete(Enrollee))
        s.commit()

    output = seed("--size", "50")

    assert "50 people" in output
    assert "already loaded" not in output


def test_tokens_of_another_database_are_kept_but_not_pointed_to(seed, credentials):
    credentials.write_text(
        "# database: sqlite:///elsewhere.db\ndemo-admin admin 410700000000 keep-me\n",
        encoding="utf-8",
    )
    seed("--size", "50")
    assert "keep-me" in credentials.read_text(encoding="utf-8")  # another database's section

    credentials.write_text(
        "# database: sqlite:///elsewhere.db\ndemo-admin admin 410700000000 keep-me\n",
        encoding="utf-8",
    )
    again = seed("--size", "50")

    assert "does not hold their tokens" in again
    assert "flask staff create" in again


def test_a_tiny_size_says_which_kinds_of_people_are_missing(seed):
    output = seed("--size", "5")
    assert "a bigger --size has them all" in output
    assert "ordinary adult" in output  # the first person is one; the others come later
