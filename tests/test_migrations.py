"""Migrations and models agree, on SQLite and PostgreSQL, both ways."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from alembic import command
from archive.db import Base
from portal.db import alembic_config, make_engine, migrate


def test_models_match_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_removes_everything_and_upgrade_restores_it(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    migrate(engine)
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert {"bundles", "ledger_entries", "ledger_head"} <= set(inspect(engine).get_table_names())
    engine.dispose()
