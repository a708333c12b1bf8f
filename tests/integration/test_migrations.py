"""The Alembic migrations and the SQLAlchemy models describe the same schema, on both databases."""

import os
from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from backend.infra.database import Base, make_engine
from backend.models import StaffUser
from tests.support import database


def test_models_and_migrations_agree(engine):
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_migrations_go_down_to_empty_and_back_up(tmp_path):
    server_url = os.environ.get("TEST_DATABASE_URL")
    url = (
        database.create_postgres_database(server_url)
        if server_url
        else f"sqlite:///{tmp_path / 'm.db'}"
    )
    try:
        cfg = database.alembic_config(url)
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        engine = make_engine(url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        command.upgrade(cfg, "head")
        engine = make_engine(url)
        assert {t.name for t in Base.metadata.sorted_tables} <= set(
            inspect(engine).get_table_names()
        )
        engine.dispose()
    finally:
        if server_url:
            database.drop_postgres_database(url, server_url)


def test_constraints_follow_the_naming_convention(engine):
    inspector = inspect(engine)
    uniques = {u["name"] for u in inspector.get_unique_constraints("registration")}
    assert "uq_registration_collection_no" in uniques
    assert "uq_registration_enrollee_id_scheme_period_year" in uniques


def test_registrations_of_a_database_from_before_pushes_are_pushed(tmp_path):
    server_url = os.environ.get("TEST_DATABASE_URL")
    url = (
        database.create_postgres_database(server_url)
        if server_url
        else f"sqlite:///{tmp_path / 'p.db'}"
    )
    try:
        cfg = database.alembic_config(url)
        command.upgrade(cfg, "7189fd907200")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO region (code, name, level) VALUES ('410721100201', 'v', 'village');"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO enrollee (id_number, name, birth_date, village_code, created_at,"
                    " updated_at) VALUES ('410721198001010012', 'n', '1980-01-01', '410721100201',"
                    " '2019-08-26 01:00:00', '2019-08-26 01:00:00')"
                )
            )
            for scheme, year in (("pension", 2019), ("medical", 2020)):
                conn.execute(
                    text(
                        "INSERT INTO registration (ref, enrollee_id, scheme, period_year,"
                        " collection_no, village_code, status, created_at, updated_at)"
                        " SELECT :ref, id, :scheme, :year, :no, village_code, 'unpaid',"
                        " created_at, created_at FROM enrollee"
                    ),
                    {"ref": f"R{year}", "scheme": scheme, "year": year, "no": f"C{year}"},
                )
        engine.dispose()
        command.upgrade(cfg, "head")
        command.upgrade(cfg, "head")  # nothing more the second time
        engine = make_engine(url)
        with engine.connect() as conn:
            pushes = conn.execute(
                text(
                    "SELECT r.collection_no, m.message_id, m.status FROM ledger_message m"
                    " JOIN registration r ON r.id = m.registration_id"
                    " WHERE m.kind = 'registration' ORDER BY r.collection_no"
                )
            ).all()
        engine.dispose()
        assert [(no, status) for no, _, status in pushes] == [
            ("C2019", "pending"),
            ("C2020", "pending"),
        ]
        assert all(message_id.startswith("reg-") for _, message_id, _ in pushes)
        command.downgrade(cfg, "7189fd907200")
    finally:
        if server_url:
            database.drop_postgres_database(url, server_url)


def test_staff_tokens_from_before_expiry_get_90_days_from_the_upgrade(tmp_path):
    server_url = os.environ.get("TEST_DATABASE_URL")
    url = (
        database.create_postgres_database(server_url)
        if server_url
        else f"sqlite:///{tmp_path / 's.db'}"
    )
    try:
        cfg = database.alembic_config(url)
        command.upgrade(cfg, "a3c91e5f7d20-1")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO region (code, name, level) VALUES ('410700000000', 'c', 'city')")
            )
            conn.execute(
                text(
                    "INSERT INTO staff_user (name, role, region_code, token_hash, created_at)"
                    " VALUES ('old', 'admin', '410700000000', 'h', '2019-01-01 00:00:00')"
                )
            )
        engine.dispose()
        upgraded = datetime.now(UTC)
        command.upgrade(cfg, "head")
        engine = make_engine(url)
        with Session(engine) as session:
            old = session.scalar(select(StaffUser))
        engine.dispose()
        # Not 2019-01-01 + 90 days: an upgrade does not lock out every older account at once.
        assert old.issued_at == datetime(2019, 1, 1, tzinfo=UTC)
        assert old.expires_at - upgraded >= timedelta(days=90)
        assert old.expires_at - upgraded < timedelta(days=90, minutes=5)
        assert old.last_used_at is None
        command.downgrade(cfg, "a3c91e5f7d20-1")
    finally:
        if server_url:
            database.drop_postgres_database(url, server_url)
