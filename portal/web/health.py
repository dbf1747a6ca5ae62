"""Probes of what the apps depend on — the database (reachable, at this code's schema revision),
the stores and the key files — each answering "reachable or not" and never raising, so a page or
a readiness check can say what is down. No answer carries a URL's password or an exception's text
that might (the URL is shown with its password masked, the failure by its exception's name)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from archive.errors import ArchiveError, ObjectMissing
from archive.seal import Keyring
from archive.store import ObjectStore
from portal.db import SCHEMA_REVISION, shown_url
from portal.wiring import PublicWired, Wired

PROBE_KEY = "casevault-health-probe"  # never written: looking it up only asks the store to answer


@dataclass(frozen=True)
class Health:
    """Whether one backing service answers, and what it is."""

    name: str  # database, store, release, keys
    reachable: bool
    kind: str
    detail: str
    revision: str | None = None  # the database's schema revision (`casevault migrate`)


def database_health(wired: PublicWired) -> Health:
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


def keys_health(folder: Path, *, required: Iterable[str], keyring: Keyring | None = None) -> Health:
    """The key files the app reads while serving can be read: each of `required`, and the
    keyring's current signing key once there is one (it is made at the first seal)."""
    names = list(required)
    try:
        if keyring is not None:
            signing = [key.kid for key in keyring.key_files() if key.current]
            names += [name for kid in signing for name in ("current", f"{kid}.pem")]
        for name in names:
            (folder / name).read_bytes()
    except OSError as exc:
        return Health("keys", False, "files", f"{exc.__class__.__name__}: {Path(exc.filename or '').name}")
    return Health("keys", True, "files", f"{len(names)} readable")


@dataclass(frozen=True)
class Check:
    """One readiness check as `/readyz` shows it to anyone: no URL, path or exception text."""

    name: str
    ok: bool
    kind: str
    reason: str


def readiness(wired: PublicWired) -> list[tuple[Check, Health]]:
    """What an app needs to answer, each check with the probe behind it (for the log): the
    database at this code's schema revision, its stores and its key files — the archive store and
    the seal keys only where the app holds them."""
    database = database_health(wired)
    settings, folder = wired.settings, wired.settings.data_dir / "keys"
    if isinstance(wired, Wired):
        # the public portal's token secret too, when `serve --app both` made one beside them
        required = ["id-number-key", "ledger-note-key", "token-secret", "public-token-secret"]
        if settings.token_secret:
            required.remove("token-secret")
        probes = [
            database,
            store_health("store", wired.store),
            store_health("release", wired.release),
            keys_health(folder, required=_made(folder, required), keyring=wired.keyring),
        ]
    else:
        required = ["public-token-secret", *([] if settings.id_number_public_key else ["id-number-key.pub"])]
        probes = [
            database,
            store_health("release", wired.release),
            keys_health(folder, required=_made(folder, required)),
        ]
    return [(_check(probe), probe) for probe in probes]


def _check(probe: Health) -> Check:
    head = SCHEMA_REVISION
    if probe.name == "database" and probe.reachable and probe.revision != head:
        found = probe.revision or "none"
        return Check(probe.name, False, probe.kind, f"schema revision {found}; this code needs {head}")
    if probe.reachable:
        return Check(probe.name, True, probe.kind, "ok" if probe.name != "database" else f"schema {head}")
    return Check(probe.name, False, probe.kind, "unreadable" if probe.name == "keys" else "unreachable")


def _made(folder: Path, names: list[str]) -> list[str]:
    """The names among `names` that must exist by now: secrets made on first use may not yet."""
    on_first_use = {"token-secret", "public-token-secret"}
    return [n for n in names if n not in on_first_use or (folder / n).exists()]
