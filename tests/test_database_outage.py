"""Database outages: nothing is created by serving, a missing, unmigrated or locked database is a
503 (and a clear exit 2 on the command line), and the app recovers by itself when it is back."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from access.ledger import LedgerEntry
from alembic import command
from bench.load import casevault, environment, served
from portal.app import create_app
from portal.db import alembic_config, make_engine, shown_url
from portal.settings import Settings
from portal.wiring import wire
from tests.support.portal import Portal

pytestmark = pytest.mark.store("file")
sqlite_only = pytest.mark.only_on("sqlite", why="a database file moved away, locked or missing is SQLite's")


def _database_file(settings: Settings) -> Path:
    return Path(settings.resolved_database_url.removeprefix("sqlite:///"))


def _files(path: Path) -> list[Path]:
    """The database file and the WAL files beside it."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert "database is unavailable" in response.json()["detail"]


def _entries(portal: Portal) -> int:
    with portal.wired.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


@sqlite_only
def test_moved_away_database_is_503_creates_nothing_and_recovers_when_restored(
    portal: Portal, tmp_path: Path
) -> None:
    url, headers = "/api/v1/cases", portal.as_role("archivist")
    assert portal.client.get(url, headers=headers).status_code == 200  # the pool holds connections now
    path = _database_file(portal.wired.settings)
    aside = tmp_path / "aside"
    aside.mkdir()
    moved = [(f, aside / f.name) for f in _files(path) if f.exists()]
    for source, target in moved:
        shutil.move(source, target)

    for _ in range(3):
        _assert_unavailable(portal.client.get(url, headers=headers))
    assert [f for f in _files(path) if f.exists()] == []  # no new, empty archive in its place

    for source, target in moved:
        shutil.move(target, source)
    before = _entries(portal)
    assert portal.client.get(url, headers=headers).status_code == 200  # no restart
    assert _entries(portal) == before + 1  # and it is the real archive, ledgering again


def test_unmigrated_database_is_503_and_a_clear_command_line_error(
    settings: Settings, cli: Callable[..., Any], make_case: Callable[..., Path]
) -> None:
    engine = make_engine(settings.resolved_database_url)
    command.downgrade(alembic_config(engine), "base")
    engine.dispose()
    wired = wire(settings)
    with TestClient(create_app(wired), base_url="https://testserver") as http:
        form = {"username": "archivist", "password": "not checked: there is no schema"}
        _assert_unavailable(http.post("/api/v1/token", data=form))

        for args in (("deposit", make_case()), ("verify", "--all"), ("ledger", "verify")):
            result = cli(*args)
            assert result.exit_code == 2, result.output
            lines = result.stderr.splitlines()
            assert len(lines) == 1, result.stderr  # one line, no traceback
            assert shown_url(settings.resolved_database_url) in lines[0]
            assert "run `casevault migrate`" in lines[0]

        assert cli("migrate").exit_code == 0
        # The same running app, no restart: the schema is there, the account is not.
        assert http.post("/api/v1/token", data=form).status_code == 401
    wired.engine.dispose()


@sqlite_only
def test_command_line_without_a_database_says_so_and_creates_none(
    settings: Settings, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "elsewhere" / "casevault.db"
    monkeypatch.setenv("CASEVAULT_DATABASE_URL", f"sqlite:///{missing}")
    result = cli("ledger", "verify")
    assert result.exit_code == 2
    assert result.stderr == f"casevault: no database at sqlite:///{missing}; run `casevault migrate`\n"
    assert not missing.exists()
    assert cli("migrate").exit_code == 0
    assert cli("ledger", "verify").exit_code == 0


@sqlite_only
def test_locked_database_answers_503_promptly(portal: Portal) -> None:
    url, headers = "/api/v1/cases", portal.as_role("archivist")
    holder = sqlite3.connect(_database_file(portal.wired.settings), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        _assert_unavailable(portal.client.get(url, headers=headers))
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert waited < 10, waited  # a hang guard only: the busy timeout is 4 s
    assert portal.client.get(url, headers=headers).status_code == 200


def _served_answers(base_url: str) -> list[httpx.Response]:
    """What a served app says to an API sign-in and to a signed-in browser on three internal pages."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        form = {"username": "archivist", "password": "not checked without a schema"}
        browser = {"Accept": "text/html", "Cookie": "casevault_session=" + "x" * 32}
        return [
            http.post("/api/v1/token", data=form),
            *(http.get(page, headers=browser) for page in ("/", "/ledger", "/disclosures")),
        ]


def _assert_served_unavailable(base_url: str) -> None:
    api, *pages = _served_answers(base_url)
    _assert_unavailable(api)
    for page in pages:
        assert page.status_code == 503 and int(page.headers["Retry-After"]) > 0, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert "服务暂时不可用" in page.text


def _assert_served_back(base_url: str) -> None:
    api, *pages = _served_answers(base_url)
    assert api.status_code == 401  # the schema is there; the account is not
    assert [(p.status_code, p.headers["location"]) for p in pages] == [
        (303, "/login?next=%2F"),
        (303, "/login?next=%2Fledger"),
        (303, "/login?next=%2Fdisclosures"),
    ]  # the stale session is looked up, found unknown, and sent to sign in


@sqlite_only
def test_serve_starts_without_a_database_answers_503_and_recovers_by_itself(
    settings: Settings, tmp_path: Path
) -> None:
    """`casevault serve` as a process: no file, then an empty one, then migrated, moved away and back."""
    path = tmp_path / "later" / "casevault.db"
    path.parent.mkdir()
    late = settings.model_copy(update={"database_url": f"sqlite:///{path}"})
    with served(late) as base_url:
        _assert_served_unavailable(base_url)
        assert not path.exists()  # serving created nothing
        sqlite3.connect(path).close()  # an empty file: unmigrated
        _assert_served_unavailable(base_url)
        migrate = subprocess.run(casevault("migrate"), env=environment(late), capture_output=True, text=True)
        assert migrate.returncode == 0, migrate.stderr
        _assert_served_back(base_url)
        aside = tmp_path / "aside"
        aside.mkdir()
        moved = [(f, aside / f.name) for f in _files(path) if f.exists()]
        for source, target in moved:
            shutil.move(source, target)
        _assert_served_unavailable(base_url)
        assert [f for f in _files(path) if f.exists()] == []
        for source, target in moved:
            shutil.move(target, source)
        _assert_served_back(base_url)  # the same process, never restarted
