"""The composition root: settings in, a wired archive (database, stores, keys) out.

Two wirings. `PublicWired` is all the public portal ever gets: the database, the release realm
(公开件存储) and the keys it needs — never the archive realm's credentials, which it cannot reach
because `wire_public` never sees them. `Wired` adds the archive realm and the seal keys.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from access import id_numbers, notes, tokens
from access.models import Clearance, Role
from access.policy import Subject
from access.witnessing import Witness, parse_witnesses
from archive import keyfiles
from archive.errors import Refused
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


def _keys(settings: Settings) -> Path:
    return settings.data_dir / "keys"


def _key_file(settings: Settings, name: str, make: Callable[[], str]) -> str:
    """A secret created once under the data dir (0600) and read back ever after."""
    path = _keys(settings) / name
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it a moment ago: read theirs
            keyfiles.write_new(path, make().encode())
    return path.read_text().strip()


def _new_token_secret() -> str:
    return secrets.token_urlsafe(48)


def token_secret(settings: Settings) -> str:
    """The internal API token signing secret: configured, or created once under the data dir."""
    return settings.token_secret or _key_file(settings, TOKEN_SECRET, _new_token_secret)


def public_token_secret(settings: Settings) -> str:
    """The public portal's own token secret, so a public host can never mint internal tokens."""
    return settings.public_token_secret or _key_file(settings, PUBLIC_TOKEN_SECRET, _new_token_secret)


# The two token secrets' files, and the setting that, when given, stands in for each.
TOKEN_SECRET, PUBLIC_TOKEN_SECRET = "token-secret", "public-token-secret"
TOKEN_SETTINGS = {TOKEN_SECRET: "token_secret", PUBLIC_TOKEN_SECRET: "public_token_secret"}


def retired_token_secrets(settings: Settings, name: str) -> tuple[tokens.RetiredSecret, ...]:
    """The token secrets rotated out whose tokens may still be unexpired (`<name>.retired`)."""
    path = _keys(settings) / f"{name}.retired"
    if not path.exists():
        return ()
    return tuple(
        tokens.RetiredSecret(item["secret"], datetime.fromisoformat(item["retired_at"]))
        for item in json.loads(path.read_text())
    )


def rotate_token_secret(settings: Settings, name: str, *, now: datetime) -> tuple[str, str]:
    """(old, new) key id: a new token secret; the old one is kept to check the tokens it signed
    until the longest of them has expired, and those past that are dropped."""
    if getattr(settings, TOKEN_SETTINGS[name]):
        raise Refused(
            f"CASEVAULT_{TOKEN_SETTINGS[name].upper()}: set in the environment; "
            "change it where it is configured (tokens it signed stop working at once)"
        )
    folder = _keys(settings)
    _key_file(settings, name, _new_token_secret)  # made first if it never was
    with keyfiles.rotation_lock(folder):
        old = (folder / name).read_text().strip()
        window = timedelta(minutes=settings.token_minutes, seconds=tokens.SKEW_SECONDS)
        kept = [r for r in retired_token_secrets(settings, name) if now < r.retired_at + window]
        kept.append(tokens.RetiredSecret(old, now))
        body = [{"secret": r.secret, "retired_at": r.retired_at.astimezone(UTC).isoformat()} for r in kept]
        # The old secret is kept before it is replaced: a crash in between leaves it in both places.
        keyfiles.replace_file(folder / f"{name}.retired", json.dumps(body).encode())
        new = _new_token_secret()
        keyfiles.replace_file(folder / name, new.encode())
    return tokens.secret_id(old), tokens.secret_id(new)


# --- the ID-number key ------------------------------------------------------------------------

ID_NUMBER_KEY = "id-number-key"


def id_number_private_key(settings: Settings) -> X25519PrivateKey:
    """The key that opens sealed ID numbers; only the internal portal holds it. Its public half is
    written beside it for a public portal sharing this data dir."""
    key = id_numbers.load_private_key(_key_file(settings, ID_NUMBER_KEY, id_numbers.new_private_key))
    _key_file(settings, f"{ID_NUMBER_KEY}.pub", lambda: id_numbers.public_key_text(key.public_key()))
    return key


def id_number_private_keys(settings: Settings) -> list[X25519PrivateKey]:
    """The keys that open sealed ID numbers: the current one and, while a rotation re-seals them,
    the new one (`id-number-key.next`), which seals every new number from the rotation's start."""
    current = id_number_private_key(settings)
    staged = _keys(settings) / f"{ID_NUMBER_KEY}.next"
    if not staged.exists():
        return [current]
    return [current, id_numbers.load_private_key(staged.read_text().strip())]


def stage_id_number_key(settings: Settings) -> tuple[X25519PublicKey, X25519PublicKey]:
    """(old, new) public key: a new ID-number key beside the current one (or the one an interrupted
    rotation left), and its public half published for the public portal from now on."""
    folder = _keys(settings)
    old = id_number_private_key(settings)
    staged = folder / f"{ID_NUMBER_KEY}.next"
    with keyfiles.rotation_lock(folder):
        if not staged.exists():
            keyfiles.write_new(staged, id_numbers.new_private_key().encode())
        new = id_numbers.load_private_key(staged.read_text().strip())
        published = id_numbers.public_key_text(new.public_key())
        keyfiles.replace_file(folder / f"{ID_NUMBER_KEY}.pub", published.encode())
    return old.public_key(), new.public_key()


def finish_id_number_key(settings: Settings) -> None:
    """Put the staged ID-number key in place of the old one, once every number is sealed to it
    (already done by a rotation run at the same time: nothing to do)."""
    folder = _keys(settings)
    staged = folder / f"{ID_NUMBER_KEY}.next"
    with keyfiles.rotation_lock(folder):
        if staged.exists():
            keyfiles.move_into_place(staged, folder / ID_NUMBER_KEY)


def id_number_sealing_key(settings: Settings) -> X25519PublicKey:
    """The key the internal portal seals new ID numbers with: the newest it holds."""
    return id_number_private_keys(settings)[-1].public_key()


def id_number_public_key(settings: Settings) -> X25519PublicKey:
    """The key that seals ID numbers, for the public portal: configured, or the public half the
    internal portal left in the data dir. Never the private key: a public host cannot read them."""
    if settings.id_number_public_key:
        return id_numbers.load_public_key(settings.id_number_public_key)
    written = _keys(settings) / f"{ID_NUMBER_KEY}.pub"
    if not written.exists():
        raise ValueError(
            "CASEVAULT_ID_NUMBER_PUBLIC_KEY: required for a public portal on its own host "
            "(print it with `casevault id-number-key` where the internal portal runs)"
        )
    return id_numbers.load_public_key(written.read_text().strip())


# --- the checkpoint (note) key ----------------------------------------------------------------

NOTE_KEY = "ledger-note-key"


def ledger_note_key(settings: Settings) -> notes.NoteKey:
    """The Ed25519 key that signs checkpoints in note form, named by the ledger's origin; created
    once under the data dir, its verifier key written beside it for a public portal sharing it."""
    key = notes.load_note_key(_keys(settings) / NOTE_KEY, name=settings.ledger_origin)
    _key_file(settings, f"{NOTE_KEY}.vkey", lambda: key.verifier.vkey)
    return key


def retired_ledger_note_keys(settings: Settings) -> list[notes.RetiredKey]:
    """The checkpoint keys rotated out, with when each was retired."""
    return notes.retired_note_keys(_keys(settings) / NOTE_KEY)


def rotate_ledger_note_key(
    settings: Settings, *, clock: Callable[[], datetime]
) -> tuple[notes.Verifier, notes.Verifier]:
    """(old, new) verifier: a new checkpoint key, its verifier key published beside it."""
    old, new = notes.rotate_note_key(_keys(settings) / NOTE_KEY, name=settings.ledger_origin, clock=clock)
    keyfiles.replace_file(_keys(settings) / f"{NOTE_KEY}.vkey", new.vkey.encode())
    return old, new


def ledger_verifier(settings: Settings) -> notes.Verifier | None:
    """The checkpoint key's public half for the public portal: configured, or left in the data dir."""
    if settings.ledger_note_vkey:
        return notes.parse_vkey(settings.ledger_note_vkey)
    written = _keys(settings) / f"{NOTE_KEY}.vkey"
    return notes.parse_vkey(written.read_text()) if written.exists() else None


@dataclass(kw_only=True)
class PublicWired:
    """What the public portal needs: the database, the release realm and its own keys.

    Keys are read from their files when used, so a rotation reaches a running portal at once.
    """

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    release: ObjectStore
    id_number_key_source: Callable[[], X25519PublicKey]
    clock: Callable[[], datetime] = field(default=_utcnow)
    # The checkpoint key's public half (None: not known to this host) and the witnesses.
    ledger_key_source: Callable[[], notes.Verifier | None] = field(default=lambda: None)
    witnesses: list[Witness] = field(default_factory=list)

    @property
    def id_number_key(self) -> X25519PublicKey:
        """The key new ID numbers are sealed to."""
        return self.id_number_key_source()

    @property
    def ledger_key(self) -> notes.Verifier | None:
        """The checkpoint key's public half, if this host knows it."""
        return self.ledger_key_source()


@dataclass(kw_only=True)
class Wired(PublicWired):
    """Everything a command or internal request needs, built once per process."""

    store: ObjectStore
    keyring: Keyring

    @property
    def note_key(self) -> notes.NoteKey:
        """The checkpoint key that signs notes now."""
        return ledger_note_key(self.settings)

    def public(self) -> PublicWired:
        """The public portal's share: same database, clock and release realm, no archive realm."""
        return PublicWired(
            settings=self.settings.without_archive_credentials(),
            engine=self.engine,
            sessions=self.sessions,
            release=self.release,
            id_number_key_source=self.id_number_key_source,
            clock=lambda: self.clock(),  # late-bound: one clock for both apps, even when replaced
            ledger_key_source=lambda: self.note_key.verifier,
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
    wired = Wired(
        settings=settings,
        engine=engine,
        sessions=sessions,
        store=open_store(settings.store_url, part_size=settings.s3_part_size),
        release=_release_store(settings),
        id_number_key_source=lambda: id_number_sealing_key(settings),
        keyring=Keyring(_keys(settings)),
        witnesses=parse_witnesses(settings.witnesses),
    )
    # Made now, so a key missing or unreadable is said at start, not at the first request.
    id_number_sealing_key(settings)
    ledger_note_key(settings)
    return wired


def wire_public(settings: Settings) -> PublicWired:
    """The public portal alone: the archive realm's credentials are dropped before anything opens."""
    settings = settings.without_archive_credentials()
    engine, sessions = _database(settings)
    id_number_public_key(settings)  # a public host that cannot seal ID numbers is refused at start
    return PublicWired(
        settings=settings,
        engine=engine,
        sessions=sessions,
        release=_release_store(settings),
        id_number_key_source=lambda: id_number_public_key(settings),
        ledger_key_source=lambda: ledger_verifier(settings),
        witnesses=parse_witnesses(settings.witnesses),
    )


def operator(wired: Wired, actor: str) -> Subject:
    """Whoever runs the command line acts as an archivist with the configured clearance."""
    return Subject(
        username=actor, role=Role.archivist, clearance=Clearance(wired.settings.operator_clearance)
    )
