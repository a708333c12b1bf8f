"""A household's privacy on the resident API: a resident sees another member's registrations only
after looking that member up by ID number and name themselves, never by household number.

A three-person household is seeded with its household number; every resident answer is searched
for that number and for the members not looked up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update

from backend.models import Enrollee
from backend.values.masking import mask_id_number
from tests.support.builders import add_person, age_on_2019
from tests.support.regions import TOWNSHIP, VILLAGE
from tests.support.resident import cancel_order, get_order, lookup, order, sign_in

HOUSEHOLD_NO = "4107211022010042"
OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def household(session):
    """Father (A), mother (B), son (C): one household number, one village."""
    members = [
        add_person(session, name="史军明", birth=age_on_2019(45), seq="011"),
        add_person(session, name="刘亚楠", birth=age_on_2019(41), seq="022"),
        add_person(
            session, name="史梓涵", birth=age_on_2019(10), seq="033", schemes=(("medical", 2020),)
        ),
    ]
    session.execute(
        update(Enrollee)
        .where(Enrollee.id.in_([person.id for person, _ in members]))
        .values(household_no=HOUSEHOLD_NO)
    )
    session.commit()
    return members


@pytest.fixture
def auth(http, live_server, fake_wechat):
    return sign_in(http, live_server, fake_wechat, "father")


def keys_of(value) -> set[str]:
    """Every key anywhere in a JSON answer."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def discloses_nothing_of_the_others(text: str, others) -> None:
    assert HOUSEHOLD_NO not in text
    assert "household" not in text.lower()
    for person, registrations in others:
        assert person.id_number not in text
        assert mask_id_number(person.id_number) not in text  # not even masked
        assert person.name not in text
        for registration in registrations:
            assert registration.ref not in text


def test_a_lookup_answers_the_person_looked_up_only(http, live_server, auth, household):
    (a, a_regs), b, c = household
    answer = lookup(http, live_server, auth, a.id_number, a.name)
    assert answer.status_code == 200
    found = answer.json()
    assert not {k for k in keys_of(found) if "household" in k.lower()}
    assert len(found["registrations"]) == len(a_regs)
    assert found["enrollee"]["id_number_masked"].endswith(a.id_number[-4:])
    discloses_nothing_of_the_others(answer.text, [b, c])


def test_another_members_name_with_this_id_number_is_not_found(http, live_server, auth, household):
    (a, _), (b, _), _ = household
    wrong = lookup(http, live_server, auth, b.id_number, a.name)
    assert wrong.status_code == 404
    assert HOUSEHOLD_NO not in wrong.text and b.name not in wrong.text
    # Nor does the household number stand in for an ID number.
    by_household = lookup(http, live_server, auth, HOUSEHOLD_NO, a.name)
    assert by_household.status_code in (404, 422)
    assert b.name not in by_household.text


def test_an_order_of_one_member_lists_that_member_only(
    http, live_server, fake_wechat, auth, household
):
    (a, a_regs), b, c = household
    found = lookup(http, live_server, auth, a.id_number, a.name).json()
    made = order(http, live_server, auth, [r["ref"] for r in found["registrations"]])
    assert made.status_code == 201, made.text
    assert len(made.json()["items"]) == len(a_regs)
    answers = [
        made,
        get_order(http, live_server, auth, made.json()["order_no"]),
        http.get(f"{live_server}/api/mp/v1/orders", headers=auth),
        cancel_order(http, live_server, auth, made.json()["order_no"]),
        http.get(f"{live_server}/api/mp/v1/regions", headers=auth),
        http.get(f"{live_server}/api/mp/v1/regions?parent={TOWNSHIP}", headers=auth),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.text
        discloses_nothing_of_the_others(answer.text, [b, c])
    link = http.get(f"{live_server}/q/{VILLAGE}", allow_redirects=False)
    assert HOUSEHOLD_NO not in link.text + link.headers.get("Location", "")


def test_ordering_another_member_needs_this_callers_own_lookup_of_them(
    http, live_server, fake_wechat, auth, household
):
    (a, _), (b, b_regs), _ = household
    lookup(http, live_server, auth, a.id_number, a.name)  # the caller knows A only
    mother = sign_in(http, live_server, fake_wechat, "mother")
    hers = lookup(http, live_server, mother, b.id_number, b.name).json()

    for ref in (b_regs[1].ref, next(r["ref"] for r in hers["registrations"])):
        # B's stored ref, and the ref B's own lookup granted to another user.
        taken = http.post(
            f"{live_server}/api/mp/v1/orders",
            json={"items": [{"registration_ref": ref}], "trade_type": "JSAPI"},
            headers={**auth, "Idempotency-Key": f"not-looked-up-{ref[:10]}"},
        )
        assert taken.status_code == 422, taken.text
        assert taken.json()["reason"] == "unknown_registration"

    # Once the caller looks B up by ID number and name, B can be paid for in the same way.
    found = lookup(http, live_server, auth, b.id_number, b.name).json()
    made = order(http, live_server, auth, [r["ref"] for r in found["registrations"]])
    assert made.status_code == 201, made.text
    assert {i["name_masked"] for i in made.json()["items"]} == {"刘**"}


def test_no_resident_operation_documents_a_household_field():
    """The published contract: nothing under /api/mp/v1 answers or takes a household."""
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    resident = {p: v for p, v in spec["paths"].items() if p.startswith("/api/mp/v1")}
    assert resident
    seen: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref and ref not in seen:
                seen.add(ref)
                _, _, kind, name = ref.split("/")  # #/components/<kind>/<name>
                walk(spec["components"][kind][name])
            for key, value in node.items():
                if key == "properties":
                    assert not [k for k in value if "household" in k.lower()], value
                if key == "parameters":
                    assert not [p for p in value if "household" in str(p.get("name")).lower()]
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(resident)
    assert len(seen) > 5  # the answers' schemas were reached
