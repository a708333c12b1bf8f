"""A copy of the database reveals no ID number: after an import (one row refused), a resident's
WeChat payment, the pushes and payment messages to the bureau and a collector batch declared,
entered and booked, no column of any table holds a full ID number of the people involved. The
application still finds, shows and sends them (the sealed copy opens with the keys)."""

from __future__ import annotations

import base64
import io

import pytest
from sqlalchemy import select

from backend import create_app
from backend.infra import id_vault
from backend.infra.database import Base
from backend.models import Enrollee, LedgerMessage, Registration
from fakes.tax.server import create_app as create_fake_bureau
from tests.conftest import serve
from tests.support.builders import add_person
from tests.support.collectors import act, batch, bearer, open_batch, record
from tests.support.dashboard import staff_account
from tests.support.files import REGISTRATION_HEADER, registration
from tests.support.regions import VILLAGE
from tests.support.resident import get_order, lookup, order, pay, sign_in
from tests.support.running import run_worker, wait_until
from tests.support.servers import ServerThread

CONFIRM = "/api/tax/v1/treasury-entries"


@pytest.fixture
def rest_app(app_config, with_regions):
    return create_app(app_config)


@pytest.fixture
def server(rest_app):
    with serve(rest_app) as running:
        yield running


@pytest.fixture
def bureau(server, rest_app, clock):
    fake = create_fake_bureau(
        callback_url=server.url + CONFIRM, time_scale=0.01, confirm_delay=0.2, clock=clock.timestamp
    )
    with ServerThread(fake) as running:
        rest_app.config["APP_CONFIG"].TAX_LEDGER_URL = running.url
        yield running
    fake.extensions["fake_tax"].close()


def every_stored_value(app) -> str:
    """Every value of every row of every table, as text (what a dump would show)."""
    engine = app.extensions["db_engine"]
    with engine.connect() as conn:
        return "\n".join(
            repr(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in conn.execute(select(table))
        )


def test_no_table_holds_an_id_number_in_clear(
    rest_app, server, bureau, fake_wechat, fake_exchange, http
):
    base = server.url
    rows = [registration(n, household_no=f"H{n:05d}") for n in (1, 2, 3)]
    rows.append(registration(1, name="别人", collection_no="M-OTHER"))  # refused: another name
    numbers = {row[1] for row in rows}
    agency = bearer(staff_account(rest_app, "新乡县社保医保", "agency", "410721"))
    content = "\n".join(",".join(map(str, r)) for r in [REGISTRATION_HEADER, *rows]).encode()
    imported = http.post(
        f"{base}/api/staff/v1/imports/registrations",
        headers=agency,
        files={"file": ("registrations.csv", io.BytesIO(content))},
    )
    assert imported.status_code == 200, imported.text
    assert [r["code"] for r in imported.json()["rejected"]] == ["person_conflict"]

    # A resident finds person 1 by ID number and name, and pays.
    payer, listed = rows[0], None
    auth = sign_in(http, base, fake_wechat, "rest-payer")
    listed = lookup(http, base, auth, payer[1], payer[2]).json()
    assert listed["enrollee"]["id_number_masked"] == payer[1][:6] + "********" + payer[1][-4:]
    [found] = listed["registrations"]
    order_no = order(http, base, auth, [found["ref"]]).json()["order_no"]
    pay(http, fake_wechat, order_no)
    wait_until(lambda: get_order(http, base, auth, order_no).json()["status"] == "paid")

    # A village collector takes persons 2 and 3; the agency closes the batch; the bureau refuses
    # person 3 in words that quote the ID number.
    collector = bearer(staff_account(rest_app, "大召营村代征", "collector", VILLAGE))
    batch_no = open_batch(http, base, collector)["batch_no"]
    for row in rows[1:3]:
        recorded = record(http, base, collector, batch_no, registration_ref=_ref_of(rest_app, row))
        assert recorded.status_code == 201, recorded.text
    http.post(
        f"{bureau.url}/_control/declarations/refuse",
        json={
            "collection_nos": [rows[2][0]],
            "reason": "person_unknown",
            "message": f"身份证号 {rows[2][1]} 与姓名不符",
        },
    )
    run_worker(rest_app)  # the pushes, then the payment
    http.post(f"{fake_exchange.url}/_control/reset")  # the session's exchange: this booking only
    assert act(http, base, agency, batch_no, "close").status_code == 200
    assert "declared 1" in run_worker(rest_app)
    # The entries may come back while that worker round is still running, which then books them.
    wait_until(lambda: batch(http, base, agency, batch_no)["status"] in ("entered", "booked"))
    run_worker(rest_app)
    assert batch(http, base, agency, batch_no)["status"] == "booked"

    # The bureau and the exchange were sent the full numbers...
    pushed = http.get(f"{bureau.url}/_control/registrations").json()["registrations"]
    assert {r["body"]["id_number"] for r in pushed} == {r[1] for r in rows[:3]}
    paid = [m for m in http.get(f"{bureau.url}/_control/messages").json() if m["kind"] == "payment"]
    assert [m["body"]["id_number"] for m in paid] == [payer[1]]
    [booking] = http.get(f"{fake_exchange.url}/_control/bookings").json()
    assert [d["id_number"] for d in booking["body"]["details"]] == [rows[1][1]]

    # ... and the database holds none of them.
    stored = every_stored_value(rest_app)
    assert "registrations.csv" in stored or "M2020000001" in stored  # the dump is not empty
    for number in numbers:
        assert number not in stored and number.lower() not in stored
        assert number[6:14] + number[14:] not in stored  # nor its birth date and sequence


def _ref_of(app, row) -> str:
    with app.extensions["db_sessions"]() as session:
        return session.scalar(select(Registration.ref).where(Registration.collection_no == row[0]))


OLD_KEY = "k1:" + base64.b64encode(b"o" * 32).decode()
NEW_KEY = "k2:" + base64.b64encode(b"n" * 32).decode()


def test_a_new_key_seals_at_once_and_reencrypt_moves_the_old_rows_to_it(app_config, with_regions):
    def app_with(keys: str):
        return create_app({**app_config, "ID_ENCRYPTION_KEYS": keys})

    before = app_with(OLD_KEY)
    with before.app_context(), before.extensions["db_sessions"]() as session:
        person, _ = add_person(session, schemes=(("medical", 2020),))
        number = person.id_number
        push = session.scalars(select(LedgerMessage)).one()
        push.payload = id_vault.current().seal_ids({"message_id": "m", "id_number": number})
        session.commit()
        assert person.id_sealed.startswith("k1:")

    rotated = app_with(f"{NEW_KEY},{OLD_KEY}")
    with rotated.app_context(), rotated.extensions["db_sessions"]() as session:
        newcomer, _ = add_person(session, seq="002", schemes=())
        session.commit()
        assert newcomer.id_sealed.startswith("k2:")
        assert session.get(Enrollee, person.id).id_number == number  # the old key still opens
    moved = rotated.test_cli_runner().invoke(args=["ids", "reencrypt", "--batch", "1"])
    assert moved.exit_code == 0, moved.output
    assert "re-sealed 1 enrollees and 1 kept message bodies" in moved.output
    again = rotated.test_cli_runner().invoke(args=["ids", "reencrypt"])
    assert "re-sealed 0 enrollees and 0 kept message bodies" in again.output

    after = app_with(NEW_KEY)  # the old key dropped: everything still opens
    with after.app_context(), after.extensions["db_sessions"]() as session:
        stored = session.scalars(select(Enrollee).order_by(Enrollee.id)).all()
        assert [p.id_sealed[:3] for p in stored] == ["k2:", "k2:"]
        assert stored[0].id_number == number
        assert (
            session.scalars(select(Enrollee).where(Enrollee.numbered(number))).one().id == person.id
        )
        payload = session.scalars(select(LedgerMessage.payload)).one()
        assert id_vault.current().open_ids(payload)["id_number"] == number
