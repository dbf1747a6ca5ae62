"""Cutting the ledger short from under the application: the database refuses it, an owner who
drops the triggers is caught by the checkpoints locked in the archive store, and the roles the
apps connect as can do neither."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from minio.error import S3Error
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from access import chain, checkpoints, identities
from access.checkpoints import LedgerCheckpoint
from access.ledger import LedgerEntry
from archive.errors import ObjectExists
from archive.s3store import S3Store
from archive.store import FileStore, put_bytes, read_bytes
from portal.app import create_public_only
from portal.internal.archive import operations
from portal.internal.ledger import operations as ledger_operations
from portal.settings import Settings
from portal.wiring import Wired, wire, wire_public
from tests.support.ledger import drop_ledger_triggers
from tests.support.portal import PASSWORD, append_entries
from tests.support.public import API, applicant, filed
from tests.support.roles import Roles, connecting_as


def _checkpoint(wired: Wired) -> LedgerCheckpoint:
    made = ledger_operations.checkpoint_ledger(wired, force=True)
    assert made is not None
    return made


def _entry_hash(wired: Wired, seq: int) -> str:
    with wired.sessions() as session:
        return session.scalars(select(LedgerEntry.entry_hash).where(LedgerEntry.seq == seq)).one()


def _as_owner_without_triggers(wired: Wired, *statements: str) -> None:
    """What the database's owner can do: drop every ledger trigger, then change the rows."""
    with wired.engine.begin() as conn:
        drop_ledger_triggers(conn, "ledger_entries", "ledger_head", "ledger_checkpoints")
        for statement in statements:
            conn.execute(text(statement))


def _cut_tail(wired: Wired, *, keep: int) -> list[str]:
    """Delete every entry after `keep` and move the head back onto entry `keep`: a clean chain."""
    return [
        f"DELETE FROM ledger_entries WHERE seq > {keep}",
        f"UPDATE ledger_head SET seq = {keep}, entry_hash = '{_entry_hash(wired, keep)}' WHERE id = 1",
    ]


def _verify_json(cli: Callable[..., Any]) -> tuple[int, dict[str, Any]]:
    result = cli("ledger", "verify", "--json")
    return result.exit_code, json.loads(result.output)


# --- the database refuses -----------------------------------------------------------------------


@pytest.mark.store("file")
def test_cutting_the_tail_and_rewinding_the_head_is_refused_by_the_database(wired: Wired) -> None:
    append_entries(wired, 12)
    _checkpoint(wired)
    append_entries(wired, 8)
    keep = _entry_hash(wired, 12)
    attempts = [
        "DELETE FROM ledger_entries WHERE seq > 12",
        f"UPDATE ledger_head SET seq = 12, entry_hash = '{keep}' WHERE id = 1",
        "UPDATE ledger_head SET entry_hash = 'forged' WHERE id = 1",
        "DELETE FROM ledger_head",
        "INSERT INTO ledger_head (id, seq, entry_hash) VALUES (2, 0, 'x')",
        "DELETE FROM ledger_checkpoints",
    ]
    if wired.engine.dialect.name == "postgresql":
        attempts += ["TRUNCATE ledger_head", "TRUNCATE ledger_entries"]
    for statement in attempts:
        with pytest.raises(DBAPIError, match=r"append-only|moves only forward"), wired.engine.begin() as conn:
            conn.execute(text(statement))
    with wired.sessions() as session:
        report = chain.verify_chain(session)
    assert report.intact and report.entries == 20
    append_entries(wired, 1)  # the head still moves forward
    assert ledger_operations.verify_ledger(wired).intact


# --- an owner who drops the triggers --------------------------------------------------------------


def test_an_owner_cutting_the_tail_is_named_by_the_locked_checkpoint(
    wired: Wired, cli: Callable[..., Any]
) -> None:
    append_entries(wired, 120)
    _checkpoint(wired)
    append_entries(wired, 80)
    _checkpoint(wired)
    assert _verify_json(cli)[0] == 0
    # Entries 121–200, the head put back on 120, and the checkpoint row that covered them.
    _as_owner_without_triggers(
        wired, *_cut_tail(wired, keep=120), "DELETE FROM ledger_checkpoints WHERE tree_size = 200"
    )
    with wired.sessions() as session:
        assert chain.verify_chain(session, jwks=wired.keyring.jwks()).intact  # the database alone is fooled

    code, report = _verify_json(cli)
    assert code == 1 and report["intact"] is False
    assert report["first_bad_seq"] == 121
    assert report["reason"] == "entries 121–200 are missing: the locked checkpoint at 200 covers them"
    assert report["missing_range"] == [121, 200] and report["locked_checkpoint"] == 200
    assert report["first_bad_checkpoint"] == 200
    text_out = cli("ledger", "verify").output
    assert "ledger broken at entry 121: entries 121–200 are missing" in text_out

    # Appending again after the cut cannot paper over it: the locked root no longer matches.
    append_entries(wired, 90)
    code, report = _verify_json(cli)
    assert code == 1 and report["first_bad_checkpoint"] == 200
    assert "root hash does not match" in report["checkpoint_reason"]


@pytest.mark.store("file")
def test_a_deleted_checkpoint_row_fails_verify(wired: Wired, cli: Callable[..., Any]) -> None:
    for _ in range(3):
        append_entries(wired, 5)
        _checkpoint(wired)
    _as_owner_without_triggers(wired, "DELETE FROM ledger_checkpoints WHERE tree_size = 10")
    code, report = _verify_json(cli)
    assert code == 1 and report["first_bad_seq"] is None  # every entry is as it was
    assert report["first_bad_checkpoint"] == 10
    assert "row is missing; the locked copy in the store has it" in report["checkpoint_reason"]


@pytest.mark.store("file")
def test_the_verify_api_names_the_missing_range(portal: Any) -> None:
    wired = portal.wired
    auditor = portal.as_role("security_auditor")  # (signing in is ledgered too: before the cut)
    append_entries(wired, 30)
    made = _checkpoint(wired)
    keep = made.tree_size - 10
    drop_row = f"DELETE FROM ledger_checkpoints WHERE tree_size = {made.tree_size}"
    _as_owner_without_triggers(wired, *_cut_tail(wired, keep=keep), drop_row)
    answer = portal.client.get("/api/v1/ledger/verify", headers=auditor)
    assert answer.status_code == 200
    body = answer.json()
    assert body["intact"] is False and body["first_bad_seq"] == keep + 1
    assert body["missing_range"] == [keep + 1, made.tree_size]
    assert f"the locked checkpoint at {made.tree_size} covers them" in body["reason"]


# --- the locked copies ----------------------------------------------------------------------------


def test_a_stored_checkpoint_can_be_neither_overwritten_nor_deleted(wired: Wired, store_url: str) -> None:
    append_entries(wired, 3)
    made = _checkpoint(wired)
    store, key = wired.store, checkpoints.checkpoint_key(made.tree_size)
    assert key == f"ledger/checkpoints/{made.tree_size}.json"
    stored = json.loads(read_bytes(store, key))
    assert stored == made.as_json()
    version = store.current_version(key)
    until = store.retained_until(key, version_id=version)
    assert until is not None and until - made.created_at > timedelta(days=365 * 29)
    with pytest.raises(ObjectExists):
        put_bytes(store, key, b'{"tree_size": 3}', tags={})
    if isinstance(store, S3Store):
        with pytest.raises(S3Error):  # COMPLIANCE: not even the bucket's owner deletes it early
            store.client.remove_object(store.location.bucket, key, version_id=version)
    else:
        assert isinstance(store, FileStore)
        assert stat.S_IMODE(store.object_path(key).stat().st_mode) == 0o444
    # The sweep of abandoned deposits leaves the ledger's copies alone.
    operations.reconcile(wired, grace=timedelta(0), actor="cli:test")
    assert json.loads(read_bytes(store, key)) == made.as_json()
    assert ledger_operations.verify_ledger(wired).intact


# --- the roles the applications connect as (PostgreSQL) -------------------------------------------


def _refused(engine: Engine, statement: str, match: str) -> None:
    with pytest.raises(ProgrammingError, match=match), engine.begin() as conn:
        conn.execute(text(statement))


@pytest.mark.only_on("postgresql", why="the roles the applications connect as are PostgreSQL's")
@pytest.mark.store("file")
def test_the_app_role_cannot_change_the_schema_or_the_ledger(
    wired: Wired, roles: Roles, role_engine: Callable[[str], Engine], settings: Settings
) -> None:
    append_entries(wired, 5)
    _checkpoint(wired)
    app = role_engine(roles.app)
    for statement, why in [
        ("DROP TRIGGER ledger_entries_append_only ON ledger_entries", "must be owner"),
        ("DROP TRIGGER ledger_head_forward_only ON ledger_head", "must be owner"),
        ("ALTER TABLE ledger_entries DISABLE TRIGGER ALL", "must be owner"),
        ("ALTER TABLE ledger_checkpoints DISABLE TRIGGER ALL", "must be owner"),
        ("DROP TABLE ledger_checkpoints", "must be owner"),
        ("CREATE TABLE scratch (id int)", "permission denied for schema"),
        ("DELETE FROM ledger_entries WHERE seq > 2", "permission denied"),
        ("UPDATE ledger_entries SET actor = 'mallory'", "permission denied"),
        ("TRUNCATE ledger_entries", "permission denied"),
        ("DELETE FROM ledger_checkpoints", "permission denied"),
        ("DELETE FROM ledger_head", "permission denied"),
        ("UPDATE alembic_version SET version_num = '0006'", "permission denied"),
    ]:
        _refused(app, statement, why)
    with pytest.raises(DBAPIError, match="moves only forward"), app.begin() as conn:
        conn.execute(text("UPDATE ledger_head SET seq = 2"))

    # … and it does its work: the archive wired as the app role (migrations as the owner).
    as_app = wire(connecting_as(settings, roles.app, owner=roles.owner))
    try:
        append_entries(as_app, 3)
        assert _checkpoint(as_app).tree_size == 8
        report = ledger_operations.verify_ledger(as_app)
        assert report.intact and report.locked_checkpoint == 8
    finally:
        as_app.engine.dispose()


@pytest.mark.only_on("postgresql", why="the roles the applications connect as are PostgreSQL's")
@pytest.mark.store("file")
def test_the_public_role_reaches_only_what_the_public_portal_needs(
    wired: Wired, roles: Roles, role_engine: Callable[[str], Engine], settings: Settings
) -> None:
    with wired.sessions() as session:
        identities.create_user(
            session,
            username="archivist",
            role="archivist",
            actor="test",
            now=wired.clock(),
            password=PASSWORD,
        )
        session.commit()
    append_entries(wired, 2)
    public = role_engine(roles.public)
    for statement in [
        "SELECT actor, action, detail FROM ledger_entries",
        "SELECT * FROM ledger_entries",
        "SELECT * FROM bundles",
        "SELECT * FROM case_records",
        "SELECT * FROM retrieval_requests",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_entries SET actor = 'x'",
        "DELETE FROM disclosure_requests",
        "DELETE FROM ledger_cosignatures",
        "INSERT INTO ledger_notes (tree_size, note) VALUES (1, 'x')",
        "DROP TRIGGER ledger_head_forward_only ON ledger_head",
    ]:
        _refused(public, statement, "permission denied|must be owner")
    with public.connect() as conn:  # staff accounts, their password hashes included, are out of sight
        assert conn.execute(text("SELECT count(*) FROM users WHERE role <> 'applicant'")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM retrieval_grants")).scalar() == 0
    with pytest.raises(DBAPIError, match="row-level security"), public.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, clearance, disabled, failed_logins)"
                " VALUES ('mallory', 'm', 'archive_manager', 'none', false, 0)"
            )
        )

    # The public portal works as that role: register, sign in, file a request, list it — ledgered.
    public_wired = wire_public(connecting_as(settings, roles.public, owner=roles.owner))
    try:
        client = TestClient(create_public_only(public_wired), base_url="https://testserver")
        portal = SimpleNamespace(client=client)
        headers = applicant(portal)  # type: ignore[arg-type]
        request = filed(portal, headers)  # type: ignore[arg-type]
        mine = client.get(f"{API}/disclosures", headers=headers)
        assert mine.status_code == 200, mine.text
        assert [r["id"] for r in mine.json()["requests"]] == [request["id"]]
        # …and publishes the signed checkpoints and proves them consistent, reading no entry.
        first = _checkpoint(wired)
        append_entries(wired, 2)
        second = _checkpoint(wired)
        feed = client.get("/public/api/v1/ledger/checkpoints")
        assert feed.status_code == 200 and feed.json()["checkpoints"][0]["tree_size"] == second.tree_size
        proof = client.get(
            "/public/api/v1/ledger/consistency", params={"from": first.tree_size, "to": second.tree_size}
        )
        assert proof.status_code == 200 and proof.json()["to_root"] == second.root_hash
        client.close()
    finally:
        public_wired.engine.dispose()
    with wired.sessions() as session:
        actions = list(session.scalars(select(LedgerEntry.action).where(LedgerEntry.seq > 2)))
        report = chain.verify_chain(session)
    assert actions and report.intact
