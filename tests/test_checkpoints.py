"""Signed ledger checkpoints: RFC 9162 Merkle hashing, inclusion proofs, tampering named, the API."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from access import chain, checkpoints, ledger
from access.checkpoints import LedgerCheckpoint, LedgerTampered, TreeBuilder
from access.ledger import LedgerEntry, LedgerHead
from archive.errors import ObjectMissing
from archive.seal import Keyring
from archive.store import put_bytes
from portal.internal.ledger import operations as ledger_operations
from portal.wiring import Wired
from tests.support.ledger import drop_ledger_triggers
from tests.support.portal import append_entries

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "verify_inclusion.py"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

F = TypeVar("F", bound=Callable[..., Any])


def _sqlite(test: F) -> F:
    """Run on the FileStore only."""
    return pytest.mark.store("file")(test)


# --- an independent reference: RFC 9162 §2.1.1 and §2.1.3.1 written out recursively ----------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _leaf(data: bytes) -> bytes:
    return _sha(b"\x00" + data)


def _node(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right)


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(leaves: list[bytes]) -> bytes:
    """MTH over leaf hashes, the RFC's recursive definition."""
    if not leaves:
        return _sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), the RFC's recursive definition."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _entry_hashes(n: int) -> list[str]:
    return [hashlib.sha256(f"entry {i}".encode()).hexdigest() for i in range(n)]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_inclusion", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Merkle hashing --------------------------------------------------------------------------

# The Certificate Transparency reference inputs and tree heads (RFC 6962 test vectors).
CT_INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PATHS = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


def test_roots_and_paths_match_the_certificate_transparency_vectors() -> None:
    leaves = [checkpoints.leaf_hash(data) for data in CT_INPUTS]
    tree = TreeBuilder()
    assert tree.root().hex() == CT_ROOTS[0]
    for n in range(1, 9):
        tree.add(leaves[n - 1])
        assert checkpoints.merkle_root(leaves[:n]).hex() == CT_ROOTS[n]
        assert tree.root().hex() == CT_ROOTS[n]
    for (index, size), expected in CT_PATHS.items():
        path = checkpoints.inclusion_path(leaf_index=index, leaves=leaves[:size])
        assert [p.hex() for p in path] == expected


@pytest.mark.parametrize("n", range(1, 9))
def test_small_trees_built_by_hand(n: int) -> None:
    data = [bytes.fromhex(h) for h in _entry_hashes(n)]
    a, b, c, d, e, f, g, h = (_leaf(x) for x in [*data, *[b""] * (8 - n)])
    by_hand = {
        1: a,
        2: _node(a, b),
        3: _node(_node(a, b), c),
        4: _node(_node(a, b), _node(c, d)),
        5: _node(_node(_node(a, b), _node(c, d)), e),
        6: _node(_node(_node(a, b), _node(c, d)), _node(e, f)),
        7: _node(_node(_node(a, b), _node(c, d)), _node(_node(e, f), g)),
        8: _node(_node(_node(a, b), _node(c, d)), _node(_node(e, f), _node(g, h))),
    }[n]
    leaves = [checkpoints.leaf_hash(x) for x in _entry_hashes(n)]
    assert leaves == [_leaf(x) for x in data]
    assert checkpoints.merkle_root(leaves) == by_hand
    tree = TreeBuilder()
    tree.extend(leaves)
    assert tree.root() == by_hand


def test_streaming_root_matches_the_recursive_definition_across_chunk_boundaries() -> None:
    chunk = 1 << 12
    sizes = {1, 2, 3, 17, chunk - 1, chunk, chunk + 1, 2 * chunk, 2 * chunk + 1, 3 * chunk + 5}
    leaves = [_leaf(i.to_bytes(4, "big")) for i in range(max(sizes))]
    tree = TreeBuilder()
    for i, leaf in enumerate(leaves, start=1):
        tree.add(leaf)
        if i in sizes:
            assert tree.root() == _mth(leaves[:i]) == checkpoints.merkle_root(leaves[:i]), i
    # Fed in uneven pieces that straddle the chunks, it agrees too.
    pieces, start = TreeBuilder(), 0
    for step in (1, chunk - 2, 3, chunk + 7, 2 * chunk - 9, len(leaves)):
        pieces.extend(leaves[start : start + step])
        start = min(start + step, len(leaves))
        assert pieces.size == start and pieces.root() == _mth(leaves[:start]), start


def _flip(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@pytest.mark.parametrize("size", range(1, 18))
def test_inclusion_proofs_verify_for_every_leaf_and_fail_when_a_hash_is_flipped(size: int) -> None:
    script = _script()
    leaves = [_leaf(i.to_bytes(2, "big")) for i in range(size)]
    root = _mth(leaves)
    for index in range(size):
        path = checkpoints.inclusion_path(leaf_index=index, leaves=leaves)
        assert path == _path(index, leaves)

        def holds(leaf: bytes, path: list[bytes], root: bytes, index: int = index, size: int = size) -> bool:
            ours = checkpoints.verify_inclusion(
                leaf_index=index, tree_size=size, leaf=leaf, path=path, root=root
            )
            try:
                theirs = script.root_from_path(leaf_index=index, tree_size=size, leaf=leaf, path=path) == root
            except script.ProofFailed:
                theirs = False
            assert ours == theirs
            return ours

        assert holds(leaves[index], path, root)
        assert not holds(_flip(leaves[index], index % 256), path, root)
        assert not holds(leaves[index], path, _flip(root, 255))
        for position in range(len(path)):
            flipped = [*path]
            flipped[position] = _flip(path[position], 7 * position + index)
            assert not holds(leaves[index], flipped, root)
        assert not holds(leaves[index], [*path, path[-1]] if path else [root], root)
        if path:
            assert not holds(leaves[index], path[:-1], root)
        for other in range(size):
            if other != index and leaves[other] != leaves[index]:
                assert not holds(leaves[other], path, root)
    assert not checkpoints.verify_inclusion(
        leaf_index=size, tree_size=size, leaf=leaves[0], path=[], root=root
    )


# --- checkpoints in the database -------------------------------------------------------------


def _append(wired: Wired, count: int, *, at: datetime = T0) -> None:
    append_entries(wired, count, at=at)


def _maybe(wired: Wired, *, now: datetime = T0, every: int = 5, minutes: int = 60) -> LedgerCheckpoint | None:
    with wired.sessions() as session:
        made = checkpoints.maybe_checkpoint(
            session, keyring=wired.keyring, every_entries=every, every_minutes=minutes, now=now
        )
        session.commit()
    return made


def _sizes(wired: Wired) -> list[int]:
    with wired.sessions() as session:
        return list(session.scalars(select(LedgerCheckpoint.tree_size).order_by(LedgerCheckpoint.tree_size)))


def _verify(wired: Wired, *, jwks: bool = True) -> chain.ChainReport:
    with wired.sessions() as session:
        return chain.verify_chain(session, batch=3, jwks=wired.keyring.jwks() if jwks else None)


def _rewrite_from(wired: Wired, seq: int, *, actor: str) -> None:
    """An insider edits one entry and re-hashes it and every later one, and the head: a clean chain."""
    with wired.engine.begin() as conn:
        drop_ledger_triggers(conn, "ledger_entries")
        drop_ledger_triggers(conn, "ledger_head")
    with wired.sessions() as session:
        rows = list(
            session.scalars(select(LedgerEntry).where(LedgerEntry.seq >= seq).order_by(LedgerEntry.seq))
        )
        previous = session.scalars(select(LedgerEntry.entry_hash).where(LedgerEntry.seq == seq - 1)).one()
        for row in rows:
            if row.seq == seq:
                row.actor = actor
            row.prev_hash = previous
            fields = {column.name: getattr(row, column.name) for column in LedgerEntry.__table__.columns}
            row.entry_hash = previous = ledger.entry_hash(fields)
        head = session.get(LedgerHead, 1)
        assert head is not None
        head.entry_hash = previous
        session.commit()


@_sqlite
def test_a_checkpoint_every_n_entries_or_m_minutes(wired: Wired) -> None:
    assert _maybe(wired) is None  # an empty ledger has nothing to sign
    for _ in range(12):
        _append(wired, 1)
        _maybe(wired)
    assert _sizes(wired) == [5, 10]
    assert _maybe(wired, now=T0 + timedelta(minutes=59)) is None
    made = _maybe(wired, now=T0 + timedelta(minutes=60))
    assert made is not None and made.tree_size == 12
    assert _maybe(wired, now=T0 + timedelta(days=1)) is None  # nothing new, nothing signed
    _append(wired, 1)
    wired.clock = lambda: T0 + timedelta(minutes=61)
    assert ledger_operations.checkpoint_ledger(wired) is None  # settings: every 100 entries or 5 minutes
    forced = ledger_operations.checkpoint_ledger(wired, force=True)
    assert forced is not None and forced.tree_size == 13
    assert _sizes(wired) == [5, 10, 12, 13]
    report = _verify(wired)
    assert report.intact and report.checkpoints == 4 and report.signatures_checked
    assert report.as_json()["first_bad_checkpoint"] is None


@_sqlite
def test_checkpoint_is_signed_and_the_first_waits_for_the_time_or_the_count(wired: Wired) -> None:
    _append(wired, 2)
    assert _maybe(wired, now=T0 + timedelta(minutes=30)) is None
    made = _maybe(wired, now=T0 + timedelta(minutes=61))
    assert made is not None and made.tree_size == 2
    kid, claims = checkpoints.verified_claims(made.signature, jwks=wired.keyring.jwks())
    assert kid == made.kid == wired.keyring.signing_key()[0]
    assert claims == {
        "tree_size": 2,
        "root_hash": made.root_hash,
        "created_at": "2026-11-26T10:01:00.000000+00:00",
        "ledger": "casevault",
    }
    with wired.sessions() as session:
        hashes = list(session.scalars(select(LedgerEntry.entry_hash).order_by(LedgerEntry.seq)))
    assert made.root_hash == _node(*(_leaf(bytes.fromhex(h)) for h in hashes)).hex()


@_sqlite
def test_database_refuses_to_change_checkpoints(wired: Wired) -> None:
    _append(wired, 5)
    _maybe(wired)
    for statement in ("UPDATE ledger_checkpoints SET root_hash = 'x'", "DELETE FROM ledger_checkpoints"):
        with pytest.raises(DBAPIError, match="append-only"), wired.engine.begin() as conn:
            conn.execute(text(statement))
    assert _sizes(wired) == [5]


@_sqlite
def test_tampered_checkpoint_is_named_by_ledger_verify(wired: Wired, cli: Callable[..., Any]) -> None:
    for _ in range(3):
        _append(wired, 5)
        _maybe(wired)
    assert cli("ledger", "verify").exit_code == 0
    forged = hashlib.sha256(b"forged").hexdigest()
    with wired.engine.begin() as conn:
        drop_ledger_triggers(conn, "ledger_checkpoints")
        conn.execute(text("UPDATE ledger_checkpoints SET root_hash = :r WHERE tree_size = 10"), {"r": forged})
    result = cli("ledger", "verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["intact"] is False
    assert report["first_bad_seq"] is None  # every entry is as it was
    assert report["entries"] == 15 and report["checkpoints"] == 3
    assert report["first_bad_checkpoint"] == 10
    assert "root_hash" in report["checkpoint_reason"]
    assert "ledger checkpoint at 10 entries" in cli("ledger", "verify").output


@_sqlite
def test_checkpoint_signed_by_another_key_fails_its_signature(wired: Wired, tmp_path: Path) -> None:
    _append(wired, 5)
    made = _maybe(wired)
    assert made is not None
    impostor = checkpoints.sign_checkpoint(
        tree_size=5, root_hash=made.root_hash, created_at=made.created_at, keyring=Keyring(tmp_path / "other")
    )
    with wired.engine.begin() as conn:
        drop_ledger_triggers(conn, "ledger_checkpoints")
        conn.execute(
            text("UPDATE ledger_checkpoints SET signature = :s, kid = :k"),
            {"s": impostor.signature, "k": impostor.kid},
        )
    report = _verify(wired)
    assert not report.intact and report.first_bad_seq is None and report.first_bad_checkpoint == 5
    assert "not in the JWKS" in (report.checkpoint_reason or "")


@_sqlite
def test_entry_edited_and_rehashed_fails_the_checkpoint_covering_it(
    wired: Wired, cli: Callable[..., Any]
) -> None:
    for _ in range(3):
        _append(wired, 4)
        _maybe(wired, every=4)
    assert _sizes(wired) == [4, 8, 12]
    _rewrite_from(wired, 6, actor="mallory")
    report = _verify(wired)
    # The chain alone looks clean: only the checkpoints see the rewrite.
    assert report.first_bad_seq is None and report.entries == 12
    assert not report.intact and report.first_bad_checkpoint == 8
    result = cli("ledger", "verify", "--json")
    assert result.exit_code == 1 and json.loads(result.output)["first_bad_checkpoint"] == 8
    # Nothing new is signed over the rewritten entries.
    _append(wired, 1)
    refused = cli("ledger", "checkpoint")
    assert refused.exit_code == 1 and "checkpoint at 12 entries" in refused.output
    with pytest.raises(LedgerTampered, match="checkpoint at 12 entries"):
        _maybe(wired, every=1)
    assert _sizes(wired) == [4, 8, 12]


@_sqlite
def test_entry_edited_in_place_names_the_entry_and_its_checkpoint(wired: Wired) -> None:
    _append(wired, 6)
    _maybe(wired, every=3)
    _append(wired, 3)
    _maybe(wired, every=3)
    with wired.engine.begin() as conn:
        drop_ledger_triggers(conn, "ledger_entries")
        conn.execute(text("UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 2"))
    report = _verify(wired)
    assert not report.intact
    assert report.first_bad_seq == 2 and "content" in (report.reason or "")
    assert report.first_bad_checkpoint == 6 and report.entries == 2
    # Nothing is signed over an edited entry that no checkpoint covers yet either.
    with wired.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET actor = 'user1' WHERE seq = 2"))
    assert _verify(wired).intact
    _append(wired, 1)
    with wired.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 10"))
    with pytest.raises(LedgerTampered, match="entry 10: content"):
        _maybe(wired, every=1)
    assert _sizes(wired) == [6, 9]


@_sqlite
def test_deleted_entries_fail_the_checkpoints_covering_them(wired: Wired) -> None:
    _append(wired, 4)
    _maybe(wired, every=4)
    _append(wired, 4)
    _maybe(wired, every=4)
    with wired.engine.begin() as conn:
        drop_ledger_triggers(conn, "ledger_entries")
        drop_ledger_triggers(conn, "ledger_head")
        conn.execute(text("DELETE FROM ledger_entries WHERE seq = 8"))
        conn.execute(
            text(
                "UPDATE ledger_head SET seq = 7, entry_hash = "
                "(SELECT entry_hash FROM ledger_entries WHERE seq = 7)"
            )
        )
    report = _verify(wired)
    assert report.first_bad_seq is None  # a clean truncation of the chain …
    assert report.first_bad_checkpoint == 8  # … that the checkpoint at 8 still remembers
    assert "more than the ledger holds" in (report.checkpoint_reason or "")


@pytest.mark.only_on("postgresql", why="TRUNCATE and its trigger are PostgreSQL's")
@pytest.mark.store("file")
def test_checkpoints_on_postgresql(wired: Wired, cli: Callable[..., Any]) -> None:
    for _ in range(3):
        _append(wired, 3)
        _maybe(wired, every=3)
    assert _sizes(wired) == [3, 6, 9]
    assert _verify(wired).intact
    with pytest.raises(DBAPIError, match="append-only"), wired.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_checkpoints"))
    with pytest.raises(DBAPIError, match="append-only"), wired.engine.begin() as conn:
        conn.execute(text("TRUNCATE ledger_checkpoints"))
    _rewrite_from(wired, 5, actor="mallory")
    result = cli("ledger", "verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["first_bad_seq"] is None and report["first_bad_checkpoint"] == 6


# --- the API and the standalone verifier -----------------------------------------------------


@_sqlite
def test_proof_api_for_auditors_only(portal: Any) -> None:
    client, wired = portal.client, portal.wired
    auditor = portal.as_role("security_auditor")
    assert client.get("/api/v1/ledger/entries/1/proof", headers=auditor).status_code == 404  # none signed yet
    first = ledger_operations.checkpoint_ledger(wired, force=True)
    assert first is not None
    _append(wired, 3)
    latest = ledger_operations.checkpoint_ledger(wired, force=True)
    assert latest is not None and latest.tree_size == first.tree_size + 3

    listed = client.get("/api/v1/ledger/checkpoints", headers=auditor)
    assert listed.status_code == 200
    assert [c["tree_size"] for c in listed.json()["checkpoints"]] == [latest.tree_size, first.tree_size]

    for seq, tree_size in ((1, None), (latest.tree_size, None), (2, first.tree_size)):
        params = {"tree_size": tree_size} if tree_size else {}
        response = client.get(f"/api/v1/ledger/entries/{seq}/proof", headers=auditor, params=params)
        assert response.status_code == 200, response.text
        proof = response.json()
        size = tree_size or latest.tree_size
        assert proof["seq"] == seq and proof["leaf_index"] == seq - 1 and proof["tree_size"] == size
        assert proof["checkpoint"]["tree_size"] == size and proof["checkpoint"]["jws"]
        assert checkpoints.verify_inclusion(
            leaf_index=seq - 1,
            tree_size=size,
            leaf=checkpoints.leaf_hash(proof["entry_hash"]),
            path=[bytes.fromhex(p) for p in proof["audit_path"]],
            root=bytes.fromhex(proof["root_hash"]),
        )

    beyond = client.get(f"/api/v1/ledger/entries/{latest.tree_size + 1}/proof", headers=auditor)
    assert beyond.status_code == 409 and "next checkpoint" in beyond.json()["detail"]
    unknown = client.get(
        "/api/v1/ledger/entries/1/proof", headers=auditor, params={"tree_size": latest.tree_size - 1}
    )
    assert unknown.status_code == 404
    jwks = client.get("/api/v1/ledger/jwks", headers=auditor).json()
    assert [k["kid"] for k in jwks["keys"]] == [latest.kid]
    assert all("d" not in k for k in jwks["keys"])  # public keys only

    others = (
        "archivist",
        "archive_manager",
        "supervisor",
        "disclosure_officer",
        "security_admin",
        "sysadmin",
    )
    for role in others:
        headers = portal.as_role(role)
        for url in ("/api/v1/ledger/checkpoints", "/api/v1/ledger/entries/1/proof", "/api/v1/ledger/jwks"):
            assert client.get(url, headers=headers).status_code == 403, (role, url)
    assert client.get("/api/v1/ledger/checkpoints").status_code == 401


def _run_script(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_standalone_script_imports_nothing_from_casevault() -> None:
    imported = set()
    for node in ast.walk(ast.parse(SCRIPT.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported - set(sys.stdlib_module_names) <= {"jose", "__future__"}


@_sqlite
def test_standalone_script_verifies_a_proof_from_the_api(portal: Any, tmp_path: Path) -> None:
    client, wired = portal.client, portal.wired
    auditor = portal.as_role("security_auditor")
    _append(wired, 20)
    checkpoint = ledger_operations.checkpoint_ledger(wired, force=True)
    assert checkpoint is not None
    proof = client.get("/api/v1/ledger/entries/7/proof", headers=auditor).json()
    jwks = client.get("/api/v1/ledger/jwks", headers=auditor).json()
    proof_file, jwks_file = tmp_path / "proof.json", tmp_path / "jwks.json"
    proof_file.write_text(json.dumps(proof), encoding="utf-8")
    jwks_file.write_text(json.dumps(jwks), encoding="utf-8")

    ok = _run_script(proof_file, "--jwks", jwks_file)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK: entry 7") and checkpoint.kid in ok.stdout
    assert _run_script("-", "--jwks", jwks_file, stdin=json.dumps(proof)).returncode == 0

    other_entry = client.get("/api/v1/ledger/entries/8/proof", headers=auditor).json()["entry_hash"]
    forged_root = hashlib.sha256(b"forged").hexdigest()
    tampered: dict[str, tuple[dict[str, Any], str]] = {
        "entry": ({**proof, "entry_hash": other_entry}, "does not lead to the signed root"),
        "path": ({**proof, "audit_path": [forged_root, *proof["audit_path"][1:]]}, "does not lead"),
        "short path": ({**proof, "audit_path": proof["audit_path"][:-1]}, "shorter"),
        "index": ({**proof, "leaf_index": 7}, "leaf_index"),
        "root": ({**proof, "root_hash": forged_root}, "differs from the signed"),
        "signature": (
            {**proof, "checkpoint": {**proof["checkpoint"], "jws": proof["checkpoint"]["jws"][:-4] + "AAAA"}},
            "signature does not verify",
        ),
    }
    for name, (body, expected) in tampered.items():
        bad = tmp_path / f"{name}.json"
        bad.write_text(json.dumps(body), encoding="utf-8")
        result = _run_script(bad, "--jwks", jwks_file)
        assert result.returncode == 1, name
        assert result.stdout.startswith("FAILED:") and expected in result.stdout, (name, result.stdout)

    stranger = Keyring(tmp_path / "stranger")
    stranger.signing_key()
    strangers = tmp_path / "strangers.json"
    strangers.write_text(json.dumps(stranger.jwks()), encoding="utf-8")
    result = _run_script(proof_file, "--jwks", strangers)
    assert result.returncode == 1 and "not in the JWKS" in result.stdout
    assert _run_script(tmp_path / "missing.json", "--jwks", jwks_file).returncode == 1


# --- the locked copies in the archive store --------------------------------------------------


def _crash(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("the process died here")


def _copied(wired: Wired) -> list[int]:
    """Tree sizes whose copy in the store is locked."""
    found = []
    for size in _sizes(wired):
        key = checkpoints.checkpoint_key(size)
        try:
            locked = wired.store.retained_until(key, version_id=wired.store.current_version(key))
        except ObjectMissing:
            continue
        if locked is not None:
            found.append(size)
    return found


@_sqlite
def test_a_crash_between_commit_and_copy_is_repaired_by_the_next_verify_or_checkpoint(
    wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    _append(wired, 4)
    with monkeypatch.context() as crashing:
        crashing.setattr(checkpoints, "publish_pending", _crash)
        with pytest.raises(RuntimeError):
            ledger_operations.checkpoint_ledger(wired, force=True)
    assert _sizes(wired) == [4] and _copied(wired) == []  # committed, never copied
    report = ledger_operations.verify_ledger(wired)
    assert report.intact and report.locked_checkpoint == 4 and _copied(wired) == [4]

    _append(wired, 3)
    with monkeypatch.context() as crashing:
        crashing.setattr(checkpoints, "publish_pending", _crash)
        with pytest.raises(RuntimeError):
            ledger_operations.checkpoint_ledger(wired, force=True)
    _append(wired, 2)
    assert ledger_operations.checkpoint_ledger(wired, force=True) is not None
    assert _copied(wired) == [4, 7, 9]  # the next checkpoint copied the one the crash left


def test_a_copy_written_but_not_yet_locked_is_locked_on_the_next_round(
    wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    _append(wired, 3)
    with monkeypatch.context() as crashing:
        crashing.setattr(wired.store, "apply_retention", _crash)
        with pytest.raises(RuntimeError):
            ledger_operations.checkpoint_ledger(wired, force=True)
    key = checkpoints.checkpoint_key(3)
    assert wired.store.retained_until(key, version_id=wired.store.current_version(key)) is None
    assert ledger_operations.checkpoint_ledger(wired) is None  # nothing new to sign, but the copy is finished
    assert _sizes(wired) == _copied(wired) == [3]
    assert ledger_operations.verify_ledger(wired).intact


@_sqlite
def test_a_copy_that_differs_from_its_row_is_refused_and_named(wired: Wired) -> None:
    _append(wired, 2)
    with wired.sessions() as session:
        made = checkpoints.maybe_checkpoint(
            session, keyring=wired.keyring, every_entries=1, every_minutes=60, now=T0
        )
        assert made is not None
        session.commit()
    put_bytes(wired.store, checkpoints.checkpoint_key(2), b'{"tree_size": 2}', tags={})  # planted first
    with pytest.raises(LedgerTampered, match=r"ledger/checkpoints/2\.json: the locked copy differs"):
        ledger_operations.verify_ledger(wired)
