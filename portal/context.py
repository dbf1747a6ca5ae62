"""The composition root: settings in, a wired archive (database, store, keys) out."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.s3store import S3Store
from archive.seal import Keyring
from archive.store import FileStore, ObjectStore
from portal.db import make_engine, migrate
from portal.settings import Settings


def open_store(url: str, *, part_size: int) -> ObjectStore:
    """A store from its URL: `file:///path` or `s3://ACCESS:SECRET@host:port/bucket`."""
    if url.startswith("file://"):
        return FileStore(Path(url.removeprefix("file://")))
    if url.startswith("s3://"):
        store = S3Store(url, part_size=part_size)
        store.ensure_bucket()
        return store
    raise ValueError(f"CASEVAULT_STORE: unsupported URL scheme in {url.split('://')[0]!r}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def token_secret(settings: Settings) -> str:
    """The API token signing secret: configured, or created once under the data dir (0600)."""
    if settings.token_secret:
        return settings.token_secret
    path = settings.data_dir / "keys" / "token-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


@dataclass
class Wired:
    """Everything a command or request needs, built once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore
    keyring: Keyring
    clock: Callable[[], datetime] = field(default=_utcnow)


def wire(settings: Settings) -> Wired:
    """Create the data dir, migrate the database and open the store."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    return Wired(
        settings=settings,
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        store=open_store(settings.store_url, part_size=settings.s3_part_size),
        keyring=Keyring(settings.data_dir / "keys"),
    )
