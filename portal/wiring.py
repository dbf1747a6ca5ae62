"""The composition root: settings in, a wired archive (database, stores, keys) out.

Two wirings. `PublicWired` is all the public portal ever gets: the database, the release realm
(公开件存储) and the keys it needs — never the archive realm's credentials, which it cannot reach
because `wire_public` never sees them. `Wired` adds the archive realm and the seal keys.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from access import id_numbers, notes
from access.models import Clearance, Role
from access.policy import Subject
from access.witnessing import Witness, parse_witnesses
from archive.seal import Keyring
from archive.store import FileStore, ObjectStore
from portal.db import make_engine
from portal.settings import Settings


def open_store(url: str, *, part_size: int) -> ObjectStore:
    """A store from its URL: `file:///path` or `s3://ACCESS:SECRET@host:port/bucket`."""
    if url.startswith("file://"):
        return FileStore(Path(url.removeprefix("file://")))
    if url.startswith("s3://"):
        from archive.s3store import S3Store  # the S3 client loads only for a store that uses it

        store = S3Store(url, part_size=part_size)
        store.ensure_bucket()
        return store
    raise ValueError(f"CASEVAULT_STORE: unsupported URL scheme in {url.split('://')[0]!r}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _key_file(settings: Settings, name: str, make: Callable[[], str]) -> str:
    """A secret created once under the data dir (0600) and read back ever after."""
    path = settings.data_dir / "keys" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(make())
    return path.read_text().strip()


def token_secret(settings: Settings) -> str:
    """The internal API token signing secret: configured, or created once under the data dir."""
    return settings.token_secret or _key_file(settings, "token-secret", lambda: secrets.token_urlsafe(48))


def public_token_secret(settings: Settings) -> str:
    """The public portal's own token secret, so a public host can never mint internal tokens."""
    return settings.public_token_secret or _key_file(
        settings, "public-token-secret", lambda: secrets.token_urlsafe(48)
    )


def id_number_private_key(settings: Settings) -> X25519PrivateKey:
    """The key that opens sealed ID numbers; only the internal portal holds it. Its public half is
    written beside it for a public portal sharing this data dir."""
    key = id_numbers.load_private_key(_key_file(settings, "id-number-key", id_numbers.new_private_key))
    _key_file(settings, "id-number-key.pub", lambda: id_numbers.public_key_text(key.public_key()))
    return key


def id_number_public_key(settings: Settings) -> X25519PublicKey:
    """The key that seals ID numbers, for the public portal: configured, or the public half the
    internal portal left in the data dir. Never the private key: a public host cannot read them."""
    if settings.id_number_public_key:
        return id_numbers.load_public_key(settings.id_number_public_key)
    written = settings.data_dir / "keys" / "id-number-key.pub"
    if not written.exists():
        raise ValueError(
            "CASEVAULT_ID_NUMBER_PUBLIC_KEY: required for a public portal on its own host "
            "(print it with `casevault id-number-key` where the internal portal runs)"
        )
    return id_numbers.load_public_key(written.read_text().strip())


def ledger_note_key(settings: Settings) -> notes.NoteKey:
    """The Ed25519 key that signs checkpoints in note form, named by the ledger's origin; created
    once under the data dir, its verifier key written beside it for a public portal sharing it."""
    folder = settings.data_dir / "keys"
    key = notes.load_note_key(folder / "ledger-note-key", name=settings.ledger_origin)
    _key_file(settings, "ledger-note-key.vkey", lambda: key.verifier.vkey)
    return key


def ledger_verifier(settings: Settings) -> notes.Verifier | None:
    """The checkpoint key's public half for the public portal: configured, or left in the data dir."""
    if settings.ledger_note_vkey:
        return notes.parse_vkey(settings.ledger_note_vkey)
    written = settings.data_dir / "keys" / "ledger-note-key.vkey"
    return notes.parse_vkey(written.read_text()) if written.exists() else None


@dataclass(kw_only=True)
class PublicWired:
    """What the public portal needs: the database, the release realm and its own keys."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    release: ObjectStore
    id_number_key: X25519PublicKey
    clock: Callable[[], datetime] = field(default=_utcnow)
    # The checkpoint key's public half (None: not known to this host) and the witnesses.
    ledger_key: notes.Verifier | None = None
    witnesses: list[Witness] = field(default_factory=list)


@dataclass(kw_only=True)
class Wired(PublicWired):
    """Everything a command or internal request needs, built once per process."""

    store: ObjectStore
    keyring: Keyring
    note_key: notes.NoteKey

    def public(self) -> PublicWired:
        """The public portal's share: same database, clock and release realm, no archive realm."""
        return PublicWired(
            settings=self.settings.without_archive_credentials(),
            engine=self.engine,
            sessions=self.sessions,
            release=self.release,
            id_number_key=self.id_number_key,
            clock=lambda: self.clock(),  # late-bound: one clock for both apps, even when replaced
            ledger_key=self.note_key.verifier,
            witnesses=self.witnesses,
        )


def _database(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    # Never created or migrated here: that is `casevault migrate`'s, so a missing database is an
    # error rather than a new, empty archive (see portal.db).
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    return engine, sessionmaker(engine, expire_on_commit=False)


def _release_store(settings: Settings) -> ObjectStore:
    if settings.store and settings.release_store_url == settings.store:
        raise ValueError("CASEVAULT_RELEASE_STORE: must not be the archive store; the realms are separate")
    return open_store(settings.release_store_url, part_size=settings.s3_part_size)


def wire(settings: Settings) -> Wired:
    """Create the data dir and open the database (which must be migrated) and both realms."""
    engine, sessions = _database(settings)
    return Wired(
        settings=settings,
        engine=engine,
        sessions=sessions,
        store=open_store(settings.store_url, part_size=settings.s3_part_size),
        release=_release_store(settings),
        id_number_key=id_number_private_key(settings).public_key(),
        keyring=Keyring(settings.data_dir / "keys"),
        note_key=ledger_note_key(settings),
        witnesses=parse_witnesses(settings.witnesses),
    )


def wire_public(settings: Settings) -> PublicWired:
    """The public portal alone: the archive realm's credentials are dropped before anything opens."""
    settings = settings.without_archive_credentials()
    engine, sessions = _database(settings)
    return PublicWired(
        settings=settings,
        engine=engine,
        sessions=sessions,
        release=_release_store(settings),
        id_number_key=id_number_public_key(settings),
        ledger_key=ledger_verifier(settings),
        witnesses=parse_witnesses(settings.witnesses),
    )


def operator(wired: Wired, actor: str) -> Subject:
    """Whoever runs the command line acts as an archivist with the configured clearance."""
    return Subject(
        username=actor, role=Role.archivist, clearance=Clearance(wired.settings.operator_clearance)
    )
