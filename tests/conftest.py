"""Shared fixtures: real PostgreSQL and SQLite, a real S3 API server, real MP4 footage.

Every test that uses a database runs on SQLite and on PostgreSQL, and every test that uses a
store on the FileStore and on the S3 API, unless it is marked for fewer (a test that uses both
runs on SQLite with the FileStore and on PostgreSQL with each store: see `pairings`):
`@pytest.mark.store("file")` picks stores; `@pytest.mark.only_on("postgresql", why="…")` one
database, for what only that database has. With CI=true a missing service fails the run;
elsewhere the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner

from access import identities
from portal.app import create_app
from portal.cli.demo import case_document, make_footage, write_sip
from portal.cli.main import app
from portal.db import make_engine
from portal.internal.archive import operations
from portal.settings import Settings
from portal.wiring import Wired, wire
from tests.support.databases import Databases
from tests.support.disposition import OLD_CASE
from tests.support.portal import PASSWORD, QUICK_HASHER, Portal, create_role_users
from tests.support.roles import ROLES_SQL, Roles, as_role_url
from tests.support.services import PG_URL, free_port, missing

# A message key or enumeration value without a message fails the test that shows it.
os.environ.setdefault("CASEVAULT_STRICT_MESSAGES", "1")
DATABASES = ("sqlite", "postgresql")
STORES = ("file", "s3")
SEEDED = pytest.StashKey[str]()  # the demo bundle's id, when the test's portal starts from the seed


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The one parametrisation: both databases, both stores, or those the test is marked for."""
    databases: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    if "database_url" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("only_on")
        if only is not None and not only.kwargs.get("why"):
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: only_on needs why='…'")
        databases = only.args if only else DATABASES
    if "store_url" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker("store")
        stores = marked.args if marked else STORES
    if databases and stores:
        metafunc.parametrize(("database_url", "store_url"), pairings(databases, stores), indirect=True)
    elif databases:
        metafunc.parametrize("database_url", databases, indirect=True)
    elif stores:
        metafunc.parametrize("store_url", stores, indirect=True)


def pairings(databases: tuple[str, ...], stores: tuple[str, ...]) -> list[tuple[str, str]]:
    """Each database with each store, except SQLite with the S3 API when both of each are asked
    for: every database still meets the FileStore and every store a database, with the embedded
    pairing (SQLite, FileStore) and the production one (PostgreSQL, S3 API) both kept."""
    pairs = [(database, store) for database in databases for store in stores]
    if set(databases) == set(DATABASES) and set(stores) == set(STORES):
        pairs.remove(("sqlite", "s3"))
    return pairs


# --- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    try:
        engine = create_engine("postgresql+psycopg://" + PG_URL.split("://", 1)[1])
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return missing("PostgreSQL", f"{PG_URL}: {exc.__class__.__name__}") or False
    return True


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """This worker's migrated (and seeded) templates, each made once, copied for every test."""
    made = Databases(tmp_path_factory.mktemp("templates"), PG_URL)
    yield made
    made.close()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path, databases: Databases) -> Iterator[str]:
    """A fresh database at the newest revision, as `casevault migrate` leaves it: a SQLite file,
    or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield databases.sqlite(tmp_path / "casevault.db")
        return
    request.getfixturevalue("postgres_available")
    url = databases.postgres()
    yield url
    databases.drop(url)


# --- the S3 API ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API server over HTTP (moto's standalone server) on a free loopback port."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if server is None:
        missing("S3 API server", "moto_server not installed (pip install 'moto[server]')")
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    # The S3 server is not casevault: measuring coverage inside it would only slow every request.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")}
    command = [str(server), "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    else:
        proc.kill()
        missing("S3 API server", "moto_server did not start within 30 s")
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def s3_url(s3_endpoint: str) -> str:
    """A fresh bucket's store URL."""
    return f"s3://testing:testing@{s3_endpoint}/cv-{uuid.uuid4().hex[:16]}?secure=false"


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store in turn: the embedded FileStore and S3Store against the S3 API server."""
    if request.param == "file":
        return f"file://{tmp_path / 'objects'}"
    return str(request.getfixturevalue("s3_url"))


# --- the wired archive and its command line --------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str, store_url: str, request: pytest.FixtureRequest) -> Settings:
    """The archive on the store under test; with S3, the release realm is a bucket of its own."""
    release = None
    if store_url.startswith("s3://"):
        endpoint = request.getfixturevalue("s3_endpoint")
        release = f"s3://release:release-only@{endpoint}/rel-{uuid.uuid4().hex[:16]}?secure=false"
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        store=store_url,
        release_store=release,
        s3_part_size=5 << 20,
    )


@pytest.fixture
def wired(settings: Settings, request: pytest.FixtureRequest, databases: Databases) -> Iterator[Wired]:
    """The archive wired to the test's settings; for a test that uses the portal, already seeded
    when a copy of the seed can stand in for depositing (see tests.support.databases)."""
    if "portal" in request.fixturenames and databases.seedable(settings):
        footage = request.getfixturevalue("footage")
        request.node.stash[SEEDED] = databases.restore(settings, footage)
    w = wire(settings)
    yield w
    w.engine.dispose()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run `casevault ARGS…` in-process against the test's settings."""
    env = {
        "CASEVAULT_DATA_DIR": str(settings.data_dir),
        "CASEVAULT_DATABASE_URL": settings.database_url or "",
        "CASEVAULT_STORE": settings.store or "",
        "CASEVAULT_RELEASE_STORE": settings.release_store or "",
        "CASEVAULT_S3_PART_SIZE": str(settings.s3_part_size),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str, input: str | None = None) -> Any:
        return CliRunner().invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


# --- deposit folders -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-second H.264 MP4 with audio, made once per session."""
    if shutil.which("ffmpeg") is None:
        missing("ffmpeg", "install the Debian package ffmpeg")
    out = tmp_path_factory.mktemp("footage") / "clip.mp4"
    make_footage(out)
    return out


@pytest.fixture
def make_case(tmp_path: Path, footage: Path) -> Callable[..., Path]:
    """Write a deposit folder: case.json and the files it names (PDFs, real MP4 footage)."""

    def make(document: dict[str, Any] | None = None, *, name: str | None = None) -> Path:
        folder = tmp_path / "sips" / (name or uuid.uuid4().hex[:8])
        return write_sip(folder, document or case_document(), footage=footage)

    return make


# --- the web app -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _quick_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with test-sized cost: the same algorithm, a fraction of the time."""
    monkeypatch.setattr(identities, "_HASHER", QUICK_HASHER)
    identities._dummy_hash.cache_clear()  # made again with the quick cost, never one made at full cost


@pytest.fixture
def portal(wired: Wired, make_case: Callable[..., Path], request: pytest.FixtureRequest) -> Iterator[Portal]:
    bundle_id = request.node.stash.get(SEEDED, None)
    if bundle_id is None:
        with wired.sessions() as session:
            create_role_users(session)
            session.commit()
        bundle_id = operations.deposit(wired, folder=make_case(), actor="test")["bundle_id"]
    client = TestClient(create_app(wired), base_url="https://testserver")
    yield Portal(client=client, wired=wired, bundle_id=bundle_id, tokens={})
    client.close()


# --- disposition and the PostgreSQL roles ---------------------------------------------------


@pytest.fixture
def due(portal: Portal, make_case: Callable[..., Path]) -> Iterator[str]:
    """A case closed in 1990, kept 30 years: due since 2020. Two versions, and a second manager."""
    document = case_document(OLD_CASE)
    document["closed_at"] = "1990-06-30"
    operations.deposit(portal.wired, folder=make_case(document), actor="test")
    operations.deposit(portal.wired, folder=make_case(document), actor="test")
    with portal.wired.sessions() as session:
        identities.create_user(
            session,
            username="archive-manager-2",
            role="archive_manager",
            actor="test",
            now=datetime.now(UTC),
            password=PASSWORD,
        )
        session.commit()
    yield OLD_CASE


@pytest.fixture
def roles(wired: Wired, database_url: str) -> Roles:
    """scripts/db_roles.sql run by the owner in this test's schema (the roles are cluster-wide)."""
    raw = wired.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(ROLES_SQL.read_text(encoding="utf-8"))
        raw.commit()
    finally:
        raw.close()
    app, public = (as_role_url(database_url, role) for role in ("casevault_app", "casevault_public"))
    return Roles(database_url, app, public)


@pytest.fixture
def role_engine() -> Iterator[Callable[[str], Engine]]:
    made: list[Engine] = []

    def make(url: str) -> Engine:
        made.append(make_engine(url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()
