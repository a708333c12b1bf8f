"""The unit of work and the transition functions production calls, on a real database.

A unit of work commits what its block wrote or, when the block raises, nothing; a status moves
only where its machine allows, once however many try at the same time, and the follow-up rows
(audit, outbox) are written by the one that moved it.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from backend.infra import audit
from backend.infra.statements import CompiledStatement
from backend.infra.web import new_unit_of_work
from backend.models import AuditEntry, Registration
from backend.states.transitions import REGISTRATIONS
from tests.support.builders import add_person, age_on_2019
from tests.support.running import fresh


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


def status(session, registration_id):
    return fresh(session, lambda s: s.get(Registration, registration_id).status)


def audits(session, action):
    return fresh(
        session,
        lambda s: s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        ),
    )


def test_a_block_commits_what_it_wrote_and_a_failing_block_writes_nothing(session, uow):
    _, [registration, _] = add_person(session, birth=age_on_2019(40))
    with uow as tx:
        audit.record(tx, actor="test", action="kept", region_code="410721000000")
    with pytest.raises(RuntimeError), uow as tx:
        tx.execute(
            update(Registration).where(Registration.id == registration.id).values(status="pending")
        )
        audit.record(tx, actor="test", action="undone", region_code="410721000000")
        raise RuntimeError("a bug halfway through")
    assert (audits(session, "kept"), audits(session, "undone")) == (1, 0)
    assert status(session, registration.id) == "unpaid"  # nothing half-applied


def test_blocks_do_not_nest(uow):
    with uow, pytest.raises(RuntimeError, match="do not nest"), uow:
        pass


def test_rows_written_without_a_time_take_the_business_clock(session, uow, clock):
    clock.advance(timedelta(days=3))
    with uow as tx:
        entry = audit.record(tx, actor="test", action="stamped", region_code="410721000000")
    assert abs((entry.occurred_at - clock.now()).total_seconds()) < 5
    assert entry.occurred_at.year == 2019


def test_a_move_happens_once_and_only_the_winner_writes_the_follow_up(session, app, uow):
    _, [registration, _] = add_person(session, birth=age_on_2019(40))
    start = threading.Barrier(4)
    won = []

    def hold():
        mine = new_unit_of_work(app)
        start.wait()
        with mine as tx:
            moved = REGISTRATIONS.apply(
                tx,
                "hold",
                Registration.id == registration.id,
                audit_note=audit.Note(actor="racer", action="held", region_code="410721000000"),
            )
        won.append(bool(moved))

    racers = [threading.Thread(target=hold) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(won) == [False, False, False, True]
    assert status(session, registration.id) == "pending"
    assert audits(session, "held") == 1


def test_a_move_from_a_state_it_does_not_leave_changes_nothing(session, uow):
    _, [registration, _] = add_person(session, birth=age_on_2019(40))
    followed = []
    with uow as tx:
        moved = REGISTRATIONS.apply(
            tx,
            "enter",  # paid -> treasury_entered; this one is unpaid
            Registration.id == registration.id,
            audit_note=audit.Note(actor="test", action="entered", region_code="410721000000"),
            then=lambda tx, ids: followed.append(ids),
        )
    assert (moved, followed) == ([], [])
    assert status(session, registration.id) == "unpaid"
    assert audits(session, "entered") == 0


def test_a_compiled_statement_must_name_every_time_the_database_would_default(app):
    """Compiled statements skip SQLAlchemy's execution, which computes Python-side defaults:
    one that forgot updated_at would write NULL, so it is refused where it is built."""
    forgetful = REGISTRATIONS.statement("hold", Registration.id == 1)
    with pytest.raises(ValueError, match="updated_at"):
        CompiledStatement(forgetful, app.extensions["db_engine"].dialect)


def test_the_database_refuses_an_audit_entry_that_names_no_region(db):
    # Set-based writers (order creation, crediting) insert entries in SQL, past audit.record's
    # check: the column itself must refuse, or such an entry would be shown to nobody.
    with pytest.raises(IntegrityError):
        db.execute(
            AuditEntry.__table__.insert().values(
                actor="t", action="order.created", target="x", region_code=None, detail={}
            )
        )
    db.rollback()
