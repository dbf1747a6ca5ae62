"""Shared fixtures: real PostgreSQL and SQLite, a real S3 API server, real MP4 footage.

With CI=true a missing service fails the run; elsewhere the tests that need it are skipped
with the reason.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from portal.cli.demo import case_document, make_footage, pdf_bytes, write_sip  # noqa: F401
from portal.db import migrate
from portal.settings import Settings
from portal.wiring import Wired, wire

CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("CASEVAULT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _missing(service: str, why: str) -> None:
    message = f"{service} is not available: {why}"
    if CI:
        pytest.fail(message + " (CI=true: a missing service fails the run)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- databases -------------------------------------------------------------------------------


def _pg_engine_url() -> str:
    return "postgresql+psycopg://" + PG_URL.split("://", 1)[1]


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    try:
        engine = create_engine(_pg_engine_url())
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return _missing("PostgreSQL", f"{PG_URL}: {exc.__class__.__name__}") or False
    return True


def _migrated(url: str) -> str:
    """Migrate as `casevault migrate` does: serving never creates or migrates a database."""
    migrate(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated to the newest revision: a SQLite file, or a schema of its own on
    PostgreSQL."""
    if request.param == "sqlite":
        yield _migrated(f"sqlite:///{tmp_path / 'casevault.db'}")
        return
    request.getfixturevalue("postgres_available")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_engine_url())
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    yield _migrated(f"{PG_URL}{separator}options=-csearch_path%3D{schema}")
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


# --- the S3 API ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API server over HTTP (moto's standalone server) on a free loopback port."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if server is None:
        _missing("S3 API server", "moto_server not installed (pip install 'moto[server]')")
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
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
        _missing("S3 API server", "moto_server did not start within 30 s")
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def s3_url(s3_endpoint: str) -> str:
    """A fresh bucket's store URL."""
    return f"s3://testing:testing@{s3_endpoint}/cv-{uuid.uuid4().hex[:16]}?secure=false"


@pytest.fixture(params=["file", "s3"])
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
def wired(settings: Settings) -> Iterator[Wired]:
    w = wire(settings)
    yield w
    w.engine.dispose()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run `casevault ARGS…` in-process against the test's settings."""
    from portal.cli.main import app

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


def append_entries(wired: Wired, count: int, *, at: Any = None) -> None:
    """Append `count` ordinary ledger entries in one transaction."""
    from access import ledger

    with wired.sessions() as session:
        for n in range(count):
            ledger.append(
                session,
                actor=f"user{n}",
                action="record.view",
                outcome="allowed",
                case_no="深民防罚〔2026〕1号",
                detail={"n": n},
                at=at,
            )
        session.commit()


# --- deposit folders -------------------------------------------------------------------------


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        _missing("ffmpeg", "install the Debian package ffmpeg")
    return str(found)


@pytest.fixture(scope="session")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-second H.264 MP4 with audio, made once per session."""
    if shutil.which("ffmpeg") is None:
        _missing("ffmpeg", "install the Debian package ffmpeg")
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

PASSWORD = "correct horse battery staple"
ROLE_USERS = {
    "archivist": {},
    "archive_manager": {},
    "supervisor": {"department": "legal"},
    "disclosure_officer": {},
    "security_auditor": {},
    "security_admin": {},
    "sysadmin": {},
    "applicant": {},
}


@pytest.fixture(autouse=True)
def _quick_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with test-sized cost: the same algorithm, a fraction of the time."""
    from argon2 import PasswordHasher

    from access import identities

    monkeypatch.setattr(identities, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class Portal:
    """A running internal app with one user per role and the demo case deposited."""

    client: Any
    wired: Wired
    bundle_id: str
    tokens: dict[str, str]

    def token(self, role: str) -> str:
        """A fresh bearer token for the user of that role."""
        response = self.client.post(
            "/api/v1/token", data={"username": role.replace("_", "-"), "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def as_role(self, role: str) -> dict[str, str]:
        """Authorization header for the user of that role (token cached per test)."""
        if role not in self.tokens:
            self.tokens[role] = self.token(role)
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def portal(wired: Wired, make_case: Callable[..., Path]) -> Iterator[Portal]:
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient

    from access import identities
    from portal.app import create_app
    from portal.internal.archive import operations

    with wired.sessions() as session:
        for role, extra in ROLE_USERS.items():
            identities.create_user(
                session,
                username=role.replace("_", "-"),
                role=role,
                actor="test",
                now=datetime.now(UTC),
                password=PASSWORD,
                **extra,
            )
        session.commit()
    bundle_id = operations.deposit(wired, folder=make_case(), actor="test")["bundle_id"]
    client = TestClient(create_app(wired), base_url="https://testserver")
    yield Portal(client=client, wired=wired, bundle_id=bundle_id, tokens={})
    client.close()
