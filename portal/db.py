"""Database engines and migrations for whichever database the settings name.

Serving never creates or migrates a database. Its engine opens an existing SQLite file only
(`mode=rw`) and checks each new connection for the newest migration, so a missing or unmigrated
database is `DatabaseNotReady` — a 503 over HTTP, exit 2 on the command line — until
`casevault migrate` has run. Nothing about a failure is remembered: pooled connections are
pre-pinged, a SQLite connection whose file was moved or replaced is dropped at checkout, and the
next connection finds the database as soon as it is back.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError

if TYPE_CHECKING:
    from alembic.config import Config


def _migrations() -> Path:
    """The migration scripts: `portal/migrations` in an installed wheel (setup.py ships the
    repository's `alembic/` there), the top-level `alembic/` in a source checkout."""
    shipped = resources.files("portal") / "migrations"
    if shipped.is_dir():
        return Path(str(shipped))
    return Path(__file__).resolve().parent.parent / "alembic"


MIGRATIONS = _migrations()

# The newest migration this code was written for (tests/test_migrations.py holds it to the
# history's head). A constant, so that opening a database loads no migration machinery.
SCHEMA_REVISION = "0015"
# How long a SQLite writer waits for another's write lock: long enough for any one transaction
# of the app's (milliseconds), short enough that a locked database answers 503 within 5 s.
BUSY_TIMEOUT_SECONDS = 4


class DatabaseNotReady(OperationalError):
    """No migrated casevault database at the configured URL: an operator runs `casevault migrate`."""

    def __init__(self, message: str) -> None:
        super().__init__(None, None, LookupError(message))
        self.message = message

    def __str__(self) -> str:
        return self.message


def shown_url(url: str | URL) -> str:
    """The URL as it may be shown to an operator: the password masked."""
    return make_url(url).render_as_string(hide_password=True)


def alembic_config(engine: Engine) -> Config:
    """Alembic configured for this engine (used by `migrate` and the migration tests)."""
    from alembic.config import Config  # loaded only to migrate: other commands start without it

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def make_engine(url: str | URL, *, create: bool = False) -> Engine:
    """An engine with the settings casevault relies on: psycopg 3; SQLite with FKs, WAL and a short
    busy timeout; pre-ping on both. Only with `create` (migrations) may the database be missing or
    behind; otherwise each new connection checks that it is migrated."""
    shown = shown_url(url)
    url = make_url(url)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, pool_pre_ping=True, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
        _sqlite_file(engine, shown, create=create)
        _one_writer_at_a_time(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if not create:
        _require_migrated(engine, shown)
    return engine


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _sqlite_file(engine: Engine, shown: str, *, create: bool) -> None:
    """Open only an existing file (unless creating), with FKs and WAL; drop connections to a file
    that is no longer the one at the path (moved away, restored from a backup)."""
    path = Path(engine.dialect.create_connect_args(engine.url)[0][0])

    @event.listens_for(engine, "do_connect")
    def _open(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            return
        if not path.exists():
            raise DatabaseNotReady(f"no database at {shown}; run `casevault migrate`")
        # mode=rw: should the file go between that check and this open, SQLite fails, never creates.
        cargs[0] = f"{path.as_uri()}?mode=rw"
        cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
        # SQLite keeps using the file it opened even after it is moved away or replaced at its path.
        record.info["file"] = _identity(path)

    @event.listens_for(engine, "checkout")
    def _same_file(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get("file") != _identity(path):
            raise DisconnectionError("the database file was moved or replaced")  # the pool reconnects


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")  # what pysqlite opens a write transaction for


def _one_writer_at_a_time(engine: Engine) -> None:
    """Queue this process's SQLite writers on a lock of its own before SQLite's.

    SQLite's busy handler polls, sleeping up to 100 ms between tries, and is not fair: under 50
    concurrent requests the write lock sits idle between polls and an unlucky writer waits out the
    busy timeout (a 503). Waiting on a Python lock instead hands the lock over as soon as it is
    free. One deadline covers both waits, so a locked database still answers within the busy
    timeout; other processes (the command line) are still kept out by SQLite's own lock.
    """
    writer = threading.Lock()

    def release(info: dict[str, Any]) -> None:
        if info.pop("writer", False):
            writer.release()

    @event.listens_for(engine, "before_cursor_execute")
    def _queue(connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        info, dbapi_connection = connection.info, connection.connection.dbapi_connection
        if info.get("writer") and not dbapi_connection.in_transaction:
            release(info)  # committed or rolled back since: let the next writer in
        if info.get("writer") or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        started = time.monotonic()
        if not writer.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise OperationalError(statement, parameters, sqlite3.OperationalError("database is locked"))
        info["writer"] = True
        left = BUSY_TIMEOUT_SECONDS - (time.monotonic() - started)
        dbapi_connection.execute(f"PRAGMA busy_timeout = {max(0, int(left * 1000))}")

    @event.listens_for(engine, "checkin")
    def _done(_dbapi_connection: Any, record: Any) -> None:
        release(record.info)

    @event.listens_for(engine, "invalidate")
    def _lost(_dbapi_connection: Any, record: Any, _exc: Any) -> None:
        release(record.info)  # before the record forgets it on reconnecting


def _require_migrated(engine: Engine, shown: str) -> None:
    """Refuse each new connection to a database that is not at `SCHEMA_REVISION`."""
    head = SCHEMA_REVISION
    errors = engine.dialect.loaded_dbapi.Error

    @event.listens_for(engine, "connect")
    def _migrated(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT version_num FROM alembic_version")
            found = sorted(row[0] for row in cursor.fetchall())
        except errors:
            found = []
        finally:
            cursor.close()
            dbapi_connection.rollback()
        if head in found:
            return
        dbapi_connection.close()
        state = f"is at revision {', '.join(found)}" if found else "has no casevault schema"
        raise DatabaseNotReady(
            f"the database at {shown} {state} (this casevault needs {head}); run `casevault migrate`"
        )


def migrate(database: Engine | str | URL) -> str:
    """Bring a database (an engine's, or the one a URL names) up to the newest migration, creating
    a SQLite file if there is none, over an engine of its own (a serving engine refuses an
    unmigrated database). Returns the revision reached."""
    from alembic import command

    migrating = make_engine(database.url if isinstance(database, Engine) else database, create=True)
    try:
        command.upgrade(alembic_config(migrating), "head")
    finally:
        migrating.dispose()
    return SCHEMA_REVISION
