"""The PostgreSQL roles the applications connect as (scripts/db_roles.sql), as a test takes them on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from portal.settings import Settings

ROLES_SQL = Path(__file__).resolve().parents[2] / "scripts" / "db_roles.sql"


@dataclass
class Roles:
    """The URLs to the test's database as its owner, the app role and the public role."""

    owner: str
    app: str
    public: str


def as_role_url(url: str, role: str) -> str:
    """The same database URL, signing in as another role."""
    return make_url(url).set(username=role).render_as_string(hide_password=False)


def connecting_as(settings: Settings, url: str, *, owner: str) -> Settings:
    """The settings of an app that connects as `url`'s role and migrates as the owner."""
    return settings.model_copy(update={"database_url": url, "migration_database_url": owner})
