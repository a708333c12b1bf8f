"""The demo's collecting unit: the village of the household the seed prints (辉县市小里营镇建设社区)
has a collector account, demo-collector, whose open batch already holds a few of the village's
medical registrations, recorded through the recording service as the collector would. The people
the seed prints to try are left out, so they stay payable in the mini-program. An agency or admin
account can close the batch (单据号) at once and watch the worker declare it.
"""

from __future__ import annotations

from collections.abc import Collection

from flask import Flask
from sqlalchemy import func, select

from backend.auth.staff import StaffIdentity
from backend.collectors.recording import Collected, current_batch, record
from backend.collectors.units import unit_of
from backend.errors import DomainError
from backend.infra.web import new_unit_of_work, policy_book
from backend.models import (
    CollectorBatch,
    CollectorBatchItem,
    Enrollee,
    Registration,
    StaffUser,
)
from backend.states.registrations import RegistrationStatus

DEMO_COLLECTOR = ("demo-collector", "collector", "410782102002")
RECORDED = 3


def seed_open_batch(app: Flask, *, leave_unpaid: Collection[str]) -> tuple[str, int] | None:
    """(the demo unit's batch, registrations in it); None without the demo collector. A unit that
    has a batch already is left as it is."""
    uow = new_unit_of_work(app)
    now = uow.clock.now()
    with uow as session:
        user = session.scalar(select(StaffUser).where(StaffUser.name == DEMO_COLLECTOR[0]))
        if user is None:
            return None
        staff = StaffIdentity(user.id, user.name, user.role, user.region_code)
        unit = unit_of(session, staff)
        existing = session.scalar(
            select(CollectorBatch).where(CollectorBatch.unit_id == unit.id).limit(1)
        )
        if existing is not None:
            held = session.scalar(
                select(func.count())
                .select_from(CollectorBatchItem)
                .where(CollectorBatchItem.batch_id == existing.id)
            )
            return existing.batch_no, held or 0
        batch, _ = current_batch(session, staff, unit, now=now)
        candidates = session.scalars(
            select(Registration.collection_no)
            .join(Enrollee, Enrollee.id == Registration.enrollee_id)
            .where(
                Registration.village_code == unit.region_code,
                Registration.scheme == "medical",
                Registration.status == RegistrationStatus.UNPAID.value,
                Enrollee.household_no.not_in(list(leave_unpaid) or [""]),
            )
            .order_by(Registration.collection_no)
            .limit(RECORDED * 4)
        ).all()
        recorded = 0
        for number in candidates:
            try:
                with session.begin_nested():
                    record(
                        session,
                        policy_book(),
                        staff=staff,
                        unit=unit,
                        batch=batch,
                        collected=Collected(collection_no=number),
                        now=now,
                    )
            except DomainError:  # paid by the government in full, say: not for a collector
                continue
            recorded += 1
            if recorded == RECORDED:
                break
        return batch.batch_no, recorded
