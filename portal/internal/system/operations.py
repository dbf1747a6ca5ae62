"""What the system administrator's settings page reads: the signing keys in use (read-only) and
the health of the database and both stores — each probe answers "reachable or not" and never
raises, so the page can say what is down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from access.checkpoints import LedgerCheckpoint
from archive.errors import ArchiveError, ObjectMissing
from archive.models import Bundle
from archive.seal import Keyring
from archive.store import ObjectStore
from portal.db import shown_url
from portal.wiring import Wired

PROBE_KEY = "casevault-health-probe"  # never written: looking it up only asks the store to answer


@dataclass(frozen=True)
class SigningKey:
    """One key of the archive's keyring: seals and ledger checkpoints are signed with the current one."""

    kid: str
    created_at: datetime
    age_days: int
    current: bool
    retired_at: datetime | None
    seals: int
    last_seal: datetime | None
    checkpoints: int
    last_checkpoint: datetime | None


@dataclass(frozen=True)
class Health:
    """Whether one backing service answers, and what it is."""

    name: str  # database, store, release
    reachable: bool
    kind: str
    detail: str
    revision: str | None = None  # the database's schema revision (`casevault migrate`)


def signing_keys(session: Session, *, keyring: Keyring, now: datetime) -> list[SigningKey]:
    """Every key in the keyring, oldest first, with what it signed (bundle seals, checkpoints)."""
    seals = {
        kid: (n, last)
        for kid, n, last in session.execute(
            select(Bundle.seal_kid, func.count(), func.max(Bundle.sealed_at)).group_by(Bundle.seal_kid)
        )
    }
    signed = {
        kid: (n, last)
        for kid, n, last in session.execute(
            select(LedgerCheckpoint.kid, func.count(), func.max(LedgerCheckpoint.created_at)).group_by(
                LedgerCheckpoint.kid
            )
        )
    }
    return [
        SigningKey(
            kid=key.kid,
            created_at=key.created_at,
            age_days=max(0, (now - key.created_at).days),
            current=key.current,
            retired_at=key.retired_at,
            seals=seals.get(key.kid, (0, None))[0],
            last_seal=seals.get(key.kid, (0, None))[1],
            checkpoints=signed.get(key.kid, (0, None))[0],
            last_checkpoint=signed.get(key.kid, (0, None))[1],
        )
        for key in keyring.key_files()
    ]


def database_health(wired: Wired) -> Health:
    """The database answers a query on a connection of its own."""
    url = wired.settings.resolved_database_url
    kind = wired.engine.dialect.name
    try:
        with wired.engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as exc:
        return Health("database", False, kind, f"{shown_url(url)}: {exc.__class__.__name__}")
    return Health("database", True, kind, shown_url(url), str(revision) if revision else None)


def store_health(name: str, store: ObjectStore) -> Health:
    """A store answers a lookup of a key it does not hold (a missing object is a store that answered)."""
    kind = type(store).__name__
    try:
        store.current_version(PROBE_KEY)
    except ObjectMissing:
        return Health(name, True, kind, "")
    except ArchiveError as exc:
        return Health(name, False, kind, str(exc))
    except Exception as exc:  # whatever the client raises, the page says "unreachable" and goes on
        return Health(name, False, kind, exc.__class__.__name__)
    return Health(name, True, kind, "")


def health(wired: Wired) -> list[Health]:
    """The database, the archive store and the release store."""
    return [
        database_health(wired),
        store_health("store", wired.store),
        store_health("release", wired.release),
    ]
