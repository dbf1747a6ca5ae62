"""Backups that restore: the restore drill of the README run as processes on each database, and
the ways a restore must refuse — a wrong passphrase, a changed, cut or reordered file, a database
that holds rows, a data dir with other keys — each writing nothing."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from access import identities, ledger
from access.ledger import LedgerEntry
from bench.load import casevault, environment
from portal.app import create_app
from portal.backup import container, rows
from portal.cli.main import app
from portal.db import SCHEMA_REVISION, make_engine, migrate
from portal.internal.archive import operations
from portal.internal.ledger import operations as ledger_operations
from portal.settings import Settings
from portal.wiring import wire
from tests.support.databases import Databases
from tests.support.portal import Portal, append_entries
from tests.support.retrieval import approved, content
from tests.support.roles import ROLES_SQL, as_role_url, connecting_as

pytestmark = pytest.mark.store("file")
PASSPHRASE = "correct horse battery staple"


def _environment(settings: Settings) -> dict[str, str]:
    return environment(settings) | {"CASEVAULT_RELEASE_STORE": settings.release_store_url}


def run(settings: Settings, *args: Any, passphrase: str = PASSPHRASE) -> subprocess.CompletedProcess[str]:
    """`casevault ARGS…` as a process of its own, against these settings, the passphrase on stdin."""
    return subprocess.run(
        casevault(*map(str, args)),
        env=_environment(settings),
        input=passphrase + "\n",
        capture_output=True,
        text=True,
        timeout=300,
    )


def start(settings: Settings, *args: str) -> subprocess.Popen[str]:
    """`casevault ARGS…` started as a process of its own."""
    return subprocess.Popen(
        casevault(*args),
        env=_environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def invoke(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: Any, passphrase: str = PASSPHRASE
) -> Any:
    """`casevault ARGS…` in this process (quicker, for the refusals)."""
    monkeypatch.setenv("CASEVAULT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CASEVAULT_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("CASEVAULT_STORE", settings.store_url)
    monkeypatch.setenv("CASEVAULT_RELEASE_STORE", settings.release_store_url)
    return CliRunner().invoke(app, list(map(str, args)), input=passphrase + "\n", catch_exceptions=False)


@pytest.fixture
def elsewhere(
    settings: Settings, database_url: str, databases: Databases, tmp_path: Path
) -> Iterator[Settings]:
    """An empty database (no schema at all) and an empty data dir, beside the same store."""
    if database_url.startswith("sqlite"):
        target = f"sqlite:///{tmp_path / 'restored' / 'casevault.db'}"
    else:
        target = databases.empty_postgres()
    yield settings.model_copy(
        update={
            "data_dir": tmp_path / "restored",
            "database_url": target,
            "store": settings.store_url,
            "release_store": settings.release_store_url,
        }
    )
    if not target.startswith("sqlite"):
        databases.drop(target)


def key_files(settings: Settings) -> dict[str, bytes]:
    """Every file under the data dir's keys/, by relative path."""
    keys = settings.data_dir / "keys"
    return {p.relative_to(keys).as_posix(): p.read_bytes() for p in keys.rglob("*") if p.is_file()}


def entry_count(settings: Settings) -> int:
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return len(conn.execute(select(LedgerEntry.seq)).all())
    finally:
        engine.dispose()


def newest_entry(settings: Settings) -> LedgerEntry:
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            return session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).one()
    finally:
        engine.dispose()


def test_restore_drill(
    portal: Portal, settings: Settings, elsewhere: Settings, make_case: Callable[..., Path], tmp_path: Path
) -> None:
    """Back up a working archive, restore it into an empty database beside the same store, and
    it verifies and accepts everything it accepted before: a grant, a supplement, a checkpoint."""
    request_id = approved(portal)
    # A second version, which points at the first (a row restored before the row it points at
    # would be refused).
    assert operations.deposit(portal.wired, folder=make_case(), actor="test")["version"] == 2
    assert content(portal, "d1").status_code == 200
    assert ledger_operations.checkpoint_and_witness(portal.wired, force=True)[0] is not None
    made_entries = entry_count(settings)
    dest = tmp_path / "archive.cvbackup"

    made = run(settings, "backup", dest, "--passphrase-stdin")
    assert made.returncode == 0, made.stderr
    assert f"ledger head  entry {made_entries} " in made.stdout
    assert PASSPHRASE.encode() not in dest.read_bytes()
    assert dest.stat().st_mode & 0o077 == 0  # the file is the owner's alone
    written = newest_entry(settings)  # the archive's ledger says who took a copy of everything
    assert (written.seq, written.action, written.outcome) == (made_entries + 1, "backup.write", "ok")
    assert written.actor.startswith("cli:")
    keys = len(key_files(settings))
    assert written.detail == {
        "file": dest.name,
        "ledger_head": made_entries,
        "alembic_revision": SCHEMA_REVISION,
        "keys": keys,
    }

    done = run(elsewhere, "restore", dest, "--passphrase-stdin")
    assert done.returncode == 0, done.stderr
    assert f"ledger head  entry {made_entries} " in done.stdout
    restored_from = newest_entry(elsewhere)  # the restored chain goes on from the backup's head
    assert (restored_from.seq, restored_from.action) == (made_entries + 1, "backup.restore")
    assert restored_from.detail["file"] == dest.name and restored_from.detail["ledger_head"] == made_entries
    # Both checks at once, as processes (they run safely side by side).
    checks = [start(elsewhere, "ledger", "verify"), start(elsewhere, "verify", "--all")]
    outputs = [check.communicate(timeout=300) for check in checks]
    for check, (out, err) in zip(checks, outputs, strict=True):
        assert check.returncode == 0, out + err
    assert "held to the checkpoint" in outputs[0][0]
    assert key_files(elsewhere) == key_files(settings) != {}

    wired = wire(elsewhere)
    try:
        client = TestClient(create_app(wired), base_url="https://testserver")
        restored = Portal(client=client, wired=wired, bundle_id=portal.bundle_id, tokens={})
        # The grant approved before the backup still opens its record to the same supervisor.
        assert content(restored, "d1").status_code == 200
        grant = client.get(f"/api/v1/retrievals/{request_id}", headers=restored.as_role("supervisor"))
        assert grant.status_code == 200 and grant.json()["status"] == "approved", grant.text
        # A supplement to the restored case, a new account and a new checkpoint: ids and the chain go on.
        supplement = operations.deposit(wired, folder=make_case(), actor="test")
        assert supplement["version"] == 3
        with wired.sessions() as session:
            identities.create_user(
                session, username="after-restore", role="archivist", actor="test", now=datetime.now(UTC)
            )
            session.commit()
        made_checkpoint, _ = ledger_operations.checkpoint_and_witness(wired, force=True)
        assert made_checkpoint is not None
        report = ledger_operations.verify_ledger(wired)
        assert report.intact and report.entries > made_entries, report.as_json()
        assert all(r.intact for r in operations.verify(wired, bundle_id=None, actor="test"))
        client.close()
    finally:
        wired.engine.dispose()


def test_a_freshly_migrated_database_holds_only_the_rows_restore_replaces(database_url: str) -> None:
    """What `require_empty` lets through is exactly what the migrations seed."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            seeded = {t.name for t in rows.tables_of(conn) if rows.count(conn, t)}
    finally:
        engine.dispose()
    assert seeded == set(rows.MIGRATION_ROWS)


@pytest.fixture
def backup_file(portal: Portal, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A backup of the seeded archive, in small chunks so that there are many to tamper with, and
    a cheap key derivation (the drill keeps the real one)."""
    monkeypatch.setattr(container, "CHUNK_SIZE", 4096)
    monkeypatch.setattr(container, "LOG2_N", 10)  # the header says so: reading follows it
    dest = tmp_path / "archive.cvbackup"
    made = invoke(settings, monkeypatch, "backup", dest, "--passphrase-stdin")
    assert made.exit_code == 0, made.output
    return dest


def _frames(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each encrypted chunk's frame."""
    at, found = container._HEADER.size, []
    while at < len(data):
        length = int.from_bytes(data[at + 1 : at + 5], "big")
        found.append((at, at + 5 + length))
        at += 5 + length
    return found


def _damaged(data: bytes) -> dict[str, bytes]:
    frames = _frames(data)
    (a0, a1), (b0, b1) = frames[1], frames[2]
    middle = frames[len(frames) // 2][0] + 40
    return {
        "a flipped bit in a chunk": data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :],
        "a flipped bit in the header's nonce": data[:31] + bytes([data[31] ^ 1]) + data[32:],
        "two chunks swapped": data[:a0] + data[b0:b1] + data[a0:a1] + data[b1:],
        "a chunk dropped": data[:a0] + data[a1:],
        "cut inside a chunk": data[: frames[-2][1] + 9],
        "cut at a chunk's end": data[: frames[-2][1]],
        "extended": data + b"\0",
    }


@pytest.mark.only_on("sqlite", why="a file is damaged the same way whichever database it was made from")
def test_restore_refuses_a_wrong_passphrase_and_every_damaged_file_writing_nothing(
    backup_file: Path, elsewhere: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wrong = invoke(
        elsewhere, monkeypatch, "restore", backup_file, "--passphrase-stdin", passphrase="not it at all"
    )
    salted = tmp_path / "salted.cvbackup"
    data = backup_file.read_bytes()
    salted.write_bytes(data[:20] + bytes([data[20] ^ 1]) + data[21:])  # another salt: another key
    for refused in (wrong, invoke(elsewhere, monkeypatch, "restore", salted, "--passphrase-stdin")):
        assert refused.exit_code == 2 and "the passphrase does not open this backup" in refused.output
    assert len(_frames(data)) > 5
    for what, changed in _damaged(data).items():
        tampered = tmp_path / "tampered.cvbackup"
        tampered.write_bytes(changed)
        answer = invoke(elsewhere, monkeypatch, "restore", tampered, "--passphrase-stdin")
        assert answer.exit_code == 1, (what, answer.output)
        assert str(tampered) in answer.output and "Traceback" not in answer.output, what
    assert not (elsewhere.data_dir / "keys").exists()
    _assert_no_schema(elsewhere)
    good = invoke(elsewhere, monkeypatch, "restore", backup_file, "--passphrase-stdin")
    assert good.exit_code == 0, good.output


def _assert_no_schema(settings: Settings) -> None:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        assert not Path(url.removeprefix("sqlite:///")).exists()
        return
    engine = make_engine(url, create=True)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def test_restore_refuses_a_database_that_holds_rows_naming_the_table(
    backup_file: Path, settings: Settings, elsewhere: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into the archive's own database (rows in every table), or a fresh one that someone used."""
    before = entry_count(settings)
    into_itself = elsewhere.model_copy(update={"database_url": settings.database_url})
    answer = invoke(into_itself, monkeypatch, "restore", backup_file, "--passphrase-stdin")
    assert answer.exit_code == 2 and "is not empty (table " in answer.output, answer.output
    assert entry_count(settings) == before
    assert not (elsewhere.data_dir / "keys").exists()


def test_restore_refuses_other_keys_in_the_data_dir(
    backup_file: Path, elsewhere: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = elsewhere.data_dir / "keys"
    keys.mkdir(parents=True)
    (keys / "current").write_text("another-key\n")
    answer = invoke(elsewhere, monkeypatch, "restore", backup_file, "--passphrase-stdin")
    assert answer.exit_code == 2 and "keys/current: the data dir holds a different key" in answer.output
    assert sorted(p.name for p in keys.iterdir()) == ["current"]
    _assert_no_schema(elsewhere)


def test_backup_refuses_an_existing_file_without_force_and_a_passphrase_not_from_stdin(
    backup_file: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = backup_file.read_bytes()
    again = invoke(settings, monkeypatch, "backup", backup_file, "--passphrase-stdin")
    assert again.exit_code == 2 and "already exists; give --force" in again.output
    assert backup_file.read_bytes() == kept
    bare = invoke(settings, monkeypatch, "backup", backup_file.with_suffix(".other"))
    assert bare.exit_code == 2 and "--passphrase-stdin: required" in bare.output
    short = invoke(
        settings,
        monkeypatch,
        "backup",
        backup_file.with_suffix(".b"),
        "--passphrase-stdin",
        passphrase="short",
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    forced = invoke(settings, monkeypatch, "backup", backup_file, "--passphrase-stdin", "--force")
    assert forced.exit_code == 0 and backup_file.read_bytes() != kept
    assert [p.name for p in backup_file.parent.iterdir() if p.name.endswith(".partial")] == []


def test_a_restore_older_than_the_store_is_reported_as_cut_short(
    backup_file: Path, portal: Portal, elsewhere: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recovery point is the backup's: what the archive ledgered after it is named as missing
    by `ledger verify`, from the checkpoint locked in the (replicated) store — never silent."""
    append_entries(portal.wired, 3)
    newer = ledger_operations.checkpoint_and_witness(portal.wired, force=True)[0]
    assert newer is not None
    assert invoke(elsewhere, monkeypatch, "restore", backup_file, "--passphrase-stdin").exit_code == 0
    answer = invoke(elsewhere, monkeypatch, "ledger", "verify")
    assert answer.exit_code == 1, answer.output
    assert f"–{newer.tree_size} are missing" in answer.output, answer.output


@pytest.mark.only_on("sqlite", why="the backup is made on SQLite and restored into PostgreSQL")
def test_a_sqlite_backup_restores_into_postgresql(
    backup_file: Path,
    elsewhere: Settings,
    databases: Databases,
    postgres_available: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The embedded archive grows up: its backup restores into PostgreSQL, chain and seals intact."""
    target = elsewhere.model_copy(update={"database_url": databases.empty_postgres()})
    try:
        done = invoke(target, monkeypatch, "restore", backup_file, "--passphrase-stdin")
        assert done.exit_code == 0, done.output
        for command in (("ledger", "verify"), ("verify", "--all")):
            checked = invoke(target, monkeypatch, *command)
            assert checked.exit_code == 0, checked.output
        wired = wire(target)
        try:
            with wired.sessions() as session:
                identities.create_user(
                    session, username="on-postgresql", role="archivist", actor="test", now=datetime.now(UTC)
                )
                session.commit()
            assert ledger_operations.verify_ledger(wired).intact
        finally:
            wired.engine.dispose()
    finally:
        databases.drop(target.database_url or "")


@pytest.mark.only_on("postgresql", why="the app roles of scripts/db_roles.sql are PostgreSQL's")
def test_after_a_restore_the_app_role_works_once_the_roles_script_has_run(
    backup_file: Path, elsewhere: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Restore runs as the owner; the app role, granted its rights again, serves the restored rows."""
    assert invoke(elsewhere, monkeypatch, "restore", backup_file, "--passphrase-stdin").exit_code == 0
    owner = make_engine(elsewhere.resolved_database_url)
    try:
        raw = owner.raw_connection()
        try:
            raw.cursor().execute(ROLES_SQL.read_text(encoding="utf-8"))
            raw.commit()
        finally:
            raw.close()
    finally:
        owner.dispose()
    as_app = connecting_as(
        elsewhere,
        as_role_url(elsewhere.resolved_database_url, "casevault_app"),
        owner=elsewhere.resolved_database_url,
    )
    wired = wire(as_app)
    try:
        with wired.sessions() as session:
            identities.create_user(
                session, username="served-by-app", role="archivist", actor="test", now=datetime.now(UTC)
            )
            session.commit()
        report = ledger_operations.verify_ledger(wired)
        assert report.intact, report.as_json()
    finally:
        wired.engine.dispose()


def test_the_manifest_names_every_part_with_its_digest(
    backup_file: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = invoke(settings, monkeypatch, "backup", backup_file, "--passphrase-stdin", "--force", "--json")
    assert made.exit_code == 0, made.output
    manifest = json.loads(made.output)
    parts = {p["part"]: p for p in manifest["parts"]}
    for name, data in key_files(settings).items():
        assert parts[f"keys/{name}"]["sha256"] == hashlib.sha256(data).hexdigest()
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            # The snapshot's head, then the entry that records the backup itself.
            assert rows.ledger_head(conn)["seq"] == manifest["ledger_head"]["seq"] + 1
            for table in rows.tables_of(conn):
                since = 1 if table.name == LedgerEntry.__tablename__ else 0
                assert parts[f"database/{table.name}"]["rows"] == rows.count(conn, table) - since, table.name
    finally:
        engine.dispose()
    assert manifest["alembic_revision"] == SCHEMA_REVISION


@pytest.mark.only_on("sqlite", why="which revisions a restore takes does not depend on the database")
def test_restore_refuses_a_backup_of_an_unknown_revision_and_a_database_at_another(
    portal: Portal, settings: Settings, elsewhere: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(container, "LOG2_N", 10)
    for claimed, target in (
        ("0099_future", elsewhere),
        ("0013", elsewhere.model_copy(update={"database_url": None})),
    ):
        with monkeypatch.context() as patched:
            patched.setattr(rows, "revision", lambda _conn, claimed=claimed: claimed)
            dest = tmp_path / f"{claimed}.cvbackup"
            assert invoke(settings, monkeypatch, "backup", dest, "--passphrase-stdin").exit_code == 0
        if target.database_url is None:  # a database already migrated to this version, empty
            migrate(target.resolved_database_url)
        answer = invoke(target, monkeypatch, "restore", dest, "--passphrase-stdin")
        assert answer.exit_code == 2, answer.output
        assert claimed in answer.output
        assert not (target.data_dir / "keys").exists()


def test_a_backup_the_ledger_cannot_record_is_not_left_behind(
    portal: Portal, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A copy of everything must be in the ledger: when the entry cannot be written, the file goes."""

    def refuse(*_: Any, **__: Any) -> None:
        raise OperationalError("INSERT INTO ledger_entries", {}, Exception("the database went away"))

    monkeypatch.setattr(ledger, "append", refuse)
    dest = tmp_path / "archive.cvbackup"
    result = invoke(settings, monkeypatch, "backup", dest, "--passphrase-stdin")
    assert result.exit_code != 0
    assert not dest.exists() and list(tmp_path.glob(".archive.cvbackup*")) == []
