"""Migrations and models agree, on SQLite and PostgreSQL, both ways."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from alembic import command
from archive.db import Base
from portal.db import MIGRATIONS, SCHEMA_REVISION, alembic_config, make_engine, migrate


def test_the_code_expects_the_newest_migration() -> None:
    # A migration added without raising SCHEMA_REVISION would leave every command refusing the
    # database it has just migrated, or accepting one a migration behind.
    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == SCHEMA_REVISION


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


def _rewind(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_head SET seq = 5, entry_hash = :h WHERE id = 1"), {"h": "a" * 64})
        conn.execute(text("UPDATE ledger_head SET seq = 4 WHERE id = 1"))


def test_0007_keeps_the_head_moving_forward_and_downgrade_lifts_it(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    migrate(engine)
    with pytest.raises(DBAPIError, match="moves only forward"):
        _rewind(engine)
    command.downgrade(config, "0006")
    _rewind(engine)  # without 0007 one UPDATE moves the head back
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_head SET seq = 0, entry_hash = :g"), {"g": "0" * 64})
    migrate(engine)
    with pytest.raises(DBAPIError, match="moves only forward"):
        _rewind(engine)
    engine.dispose()
