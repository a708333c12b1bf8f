"""The Alembic migrations and the SQLAlchemy models describe the same schema, on both databases."""

import os

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from backend.infra.database import Base, make_engine
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
