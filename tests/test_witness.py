"""A ledger outsiders can witness: consistency proofs (CT test vectors), checkpoints as C2SP signed
notes, the public checkpoint feed, the stand-alone monitor and the stand-alone witness."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from access import notes, witnessing
from access.checkpoints import LedgerCheckpoint, merkle_root
from access.ledger import LedgerEntry
from access.witnessing import LedgerCosignature, consistency_path, verify_consistency
from portal.app import create_public_only
from portal.internal.ledger import operations as ledger_operations
from portal.public import ledger as public_ledger
from portal.wiring import Wired
from tests.support.ledger import drop_ledger_triggers
from tests.support.portal import Portal, append_entries
from tests.support.services import free_port
from tests.support.web import session_csrf, signed_in

ROOT = Path(__file__).resolve().parent.parent
MONITOR = ROOT / "scripts" / "monitor_ledger.py"
WITNESS = ROOT / "scripts" / "witness.py"
FILE_STORE = pytest.mark.store("file")
PUBLIC = "/public/api/v1/ledger"


def _script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- RFC 6962 / 9162 consistency proofs: the transparency-dev/merkle test vectors -------------
# The eight leaves, the roots of the trees of 1..8 of them and the proofs between sizes, as the
# Certificate Transparency and transparency-dev Merkle libraries test them.

LEAF_DATA = [
    b"",
    bytes.fromhex("00"),
    bytes.fromhex("10"),
    bytes.fromhex("2021"),
    bytes.fromhex("3031"),
    bytes.fromhex("40414243"),
    bytes.fromhex("5051525354555657"),
    bytes.fromhex("606162636465666768696a6b6c6d6e6f"),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
LEAVES = [hashlib.sha256(b"\x00" + data).digest() for data in LEAF_DATA]


def _verifiers() -> list[Callable[..., bool]]:
    """The archive's check and the two stand-alone scripts' own: all three must agree."""

    def archive(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
        return verify_consistency(
            first=first, second=second, first_root=first_root, second_root=second_root, proof=proof
        )

    return [archive, _script(MONITOR).consistent, _script(WITNESS).consistent]


def test_roots_of_the_test_trees() -> None:
    assert [merkle_root(LEAVES[: n + 1]).hex() for n in range(8)] == ROOTS


@pytest.mark.parametrize(("first", "second", "expected"), CONSISTENCY)
def test_consistency_proofs_are_the_published_vectors(first: int, second: int, expected: list[str]) -> None:
    proof = consistency_path(first=first, leaves=LEAVES[:second])
    assert [node.hex() for node in proof] == expected
    roots = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    for check in _verifiers():
        assert check(first, second, *roots, proof)
        if not proof:
            continue
        flipped = [bytes([proof[0][0] ^ 16]) + proof[0][1:], *proof[1:]]
        wrong = [
            (first - 1, second, *roots, proof),
            (first + 1, second, *roots, proof),
            (first, second * 2, *roots, proof),
            (first, second, roots[1], roots[0], proof),  # swapped roots
            (first, second, b"WrongRoot", roots[1], proof),
            (first, second, *roots, []),
            (first, second, *roots, proof[:-1]),  # truncated
            (first, second, *roots, [*proof, roots[0]]),  # trailing garbage
            (first, second, *roots, [roots[0], *proof]),  # preceding garbage
            (first, second, *roots, flipped),
        ]
        assert not any(check(*probe) for probe in wrong), check


def test_every_pair_of_sizes_proves_consistent_and_no_other_tree_does() -> None:
    other = [hashlib.sha256(b"\x00other").digest(), *LEAVES[1:]]
    for second in range(1, 9):
        for first in range(1, second + 1):
            proof = consistency_path(first=first, leaves=LEAVES[:second])
            root = merkle_root(LEAVES[:second])
            assert verify_consistency(
                first=first,
                second=second,
                first_root=merkle_root(LEAVES[:first]),
                second_root=root,
                proof=proof,
            )
            # A first tree whose leaf 0 differs (a rewritten history) never checks out.
            assert not verify_consistency(
                first=first,
                second=second,
                first_root=merkle_root(other[:first]),
                second_root=root,
                proof=proof,
            )


# --- the signed-note form ---------------------------------------------------------------------


def test_a_checkpoint_note_round_trips_and_verifies_with_plain_ed25519() -> None:
    key = notes.NoteKey("archive.example/ledger", Ed25519PrivateKey.generate())
    body = notes.checkpoint_text(origin=key.name, tree_size=8, root=bytes.fromhex(ROOTS[7]))
    note = notes.signed_note(body, key.signature_line(body))
    assert note.startswith(
        f"archive.example/ledger\n8\n{base64.b64encode(bytes.fromhex(ROOTS[7])).decode()}\n\n"
    )
    assert notes.verify_note(note, key.verifier) == body
    parsed = notes.parse_checkpoint_text(body)
    assert (parsed.origin, parsed.tree_size, parsed.root.hex()) == (key.name, 8, ROOTS[7])
    assert notes.parse_vkey(key.verifier.vkey) == key.verifier

    # Independently of access.notes: the line is "— name base64(key id || signature)", the key
    # id is SHA-256(name || \n || 0x01 || public key)[:4], the signature Ed25519 over the text.
    dash, name, encoded = note.rstrip("\n").split("\n")[-1].split(" ")
    assert (dash, name) == ("\u2014", key.name)
    raw = base64.b64decode(encoded)
    public = key.verifier.public
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], body.encode())

    tampered = note.replace("\n8\n", "\n9\n")
    with pytest.raises(notes.NoteInvalid, match="does not verify"):
        notes.verify_note(tampered, key.verifier)
    stranger = notes.NoteKey(key.name, Ed25519PrivateKey.generate())
    with pytest.raises(notes.NoteInvalid, match="no signature"):
        notes.verify_note(note, stranger.verifier)


def test_the_specifications_example_checkpoint_parses() -> None:
    example = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
        "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    )
    body, signatures = notes.split_note(example)
    checkpoint = notes.parse_checkpoint_text(body)
    assert (checkpoint.origin, checkpoint.tree_size) == ("example.com/behind-the-sofa", 20852163)
    assert [s.name for s in signatures] == ["example.com/behind-the-sofa"] and len(
        signatures[0].signature
    ) == 64
    for bad in ("x\n012\n" + "A" * 43 + "=\n", "x\n1\nnot base64!\n", "x\n1\n", "x\n1\nAA==\n"):
        with pytest.raises(notes.NoteInvalid):
            notes.parse_checkpoint_text(bad)


# --- the archive: notes for every checkpoint, the feed, the proofs ----------------------------


def _checkpoint(wired: Wired) -> LedgerCheckpoint:
    made = ledger_operations.checkpoint_ledger(wired, force=True)
    assert made is not None
    return made


@pytest.fixture(autouse=True)
def _fresh_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with its own call counts and no proof kept from another database."""
    monkeypatch.setattr(public_ledger, "WINDOW", public_ledger._Window(public_ledger.PER_MINUTE))
    public_ledger._PROOFS.clear()


@pytest.fixture
def public(wired: Wired) -> Iterator[TestClient]:
    with TestClient(create_public_only(wired.public())) as client:
        yield client


@FILE_STORE
def test_the_public_feed_needs_no_sign_in_and_shows_no_entry(wired: Wired, public: TestClient) -> None:
    append_entries(wired, 5)
    first = _checkpoint(wired)
    append_entries(wired, 6)
    second = _checkpoint(wired)
    key = public.get(f"{PUBLIC}/key").json()
    verifier = notes.parse_vkey(key["vkey"])
    assert key["origin"] == wired.settings.ledger_origin == verifier.name
    feed = public.get(f"{PUBLIC}/checkpoints")
    assert feed.status_code == 200
    sizes = [c["tree_size"] for c in feed.json()["checkpoints"]]
    assert sizes == [second.tree_size, first.tree_size]
    for shown in feed.json()["checkpoints"]:
        body = notes.verify_note(shown["note"], verifier)
        assert notes.parse_checkpoint_text(body).root.hex() == shown["root_hash"]
    proof = public.get(f"{PUBLIC}/consistency", params={"from": first.tree_size, "to": second.tree_size})
    assert proof.status_code == 200
    answer = proof.json()
    assert answer["from_root"] == first.root_hash and answer["to_root"] == second.root_hash
    assert verify_consistency(
        first=first.tree_size,
        second=second.tree_size,
        first_root=bytes.fromhex(first.root_hash),
        second_root=bytes.fromhex(second.root_hash),
        proof=[bytes.fromhex(node) for node in answer["proof"]],
    )
    with wired.sessions() as session:
        entries = list(session.scalars(select(LedgerEntry)))
    everything = feed.text + proof.text + json.dumps(key)
    for entry in entries:  # no actor, action, case, detail, nor any entry's own hash
        for value in (entry.actor, entry.entry_hash, json.dumps(entry.detail)):
            assert value not in everything
    assert "深民防罚" not in everything and "record.view" not in everything
    assert public.get(f"{PUBLIC}/consistency", params={"from": 3, "to": 4}).status_code == 404  # not signed
    refused = public.get(f"{PUBLIC}/consistency", params={"from": second.tree_size, "to": first.tree_size})
    assert refused.status_code == 422 and "from" in refused.text
    assert public.get(f"{PUBLIC}/consistency", params={"from": 0, "to": first.tree_size}).status_code == 422


@FILE_STORE
def test_the_public_feed_is_rate_limited(
    wired: Wired, public: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(public_ledger, "WINDOW", public_ledger._Window(3))
    answers = [public.get(f"{PUBLIC}/checkpoints").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = public.get(f"{PUBLIC}/key")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"


def test_the_auditor_asks_for_consistency_proofs(portal: Portal) -> None:
    first = _checkpoint(portal.wired)
    append_entries(portal.wired, 3)
    second = _checkpoint(portal.wired)
    url = "/api/v1/ledger/consistency"
    params = {"from": first.tree_size, "to": second.tree_size}
    answer = portal.client.get(url, params=params, headers=portal.as_role("security_auditor"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["to_root"] == second.root_hash and answer.json()["proof"]
    assert portal.client.get(url, params=params, headers=portal.as_role("archivist")).status_code == 403
    assert portal.client.get(url, params=params).status_code == 401


# --- tampering underneath ---------------------------------------------------------------------


def _entry_hash(wired: Wired, seq: int) -> str:
    with wired.sessions() as session:
        return session.scalars(select(LedgerEntry.entry_hash).where(LedgerEntry.seq == seq)).one()


def _cut_tail(wired: Wired, *, keep: int) -> None:
    """As the database's owner: drop the triggers, delete every entry, checkpoint, note and
    cosignature after `keep`, and move the head back — a clean, shorter ledger."""
    head = _entry_hash(wired, keep)
    with wired.engine.begin() as conn:
        tables = (
            "ledger_entries",
            "ledger_head",
            "ledger_checkpoints",
            "ledger_notes",
            "ledger_cosignatures",
        )
        drop_ledger_triggers(conn, *tables)
        conn.execute(text(f"DELETE FROM ledger_entries WHERE seq > {keep}"))
        for table in tables[2:]:
            conn.execute(text(f"DELETE FROM {table} WHERE tree_size > {keep}"))
        conn.execute(text(f"UPDATE ledger_head SET seq = {keep}, entry_hash = '{head}' WHERE id = 1"))


@pytest.fixture
def served(wired: Wired) -> Iterator[str]:
    """The public portal alone, served by uvicorn on a loopback port."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        create_public_only(wired.public()), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/public"
    server.should_exit = True
    thread.join(timeout=10)


def _monitor(url: str, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MONITOR), url, "--state", str(state), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@FILE_STORE
def test_the_monitor_accepts_growth_and_catches_a_cut_tail(wired: Wired, served: str, tmp_path: Path) -> None:
    state = tmp_path / "monitor.json"
    append_entries(wired, 10)
    _checkpoint(wired)
    seen = _monitor(served, state)
    assert seen.returncode == 0, seen.stdout + seen.stderr
    assert "first checkpoint seen (key fetched and pinned)" in seen.stdout
    assert json.loads(state.read_text())["vkey"] == wired.note_key.verifier.vkey
    again = _monitor(served, state)
    assert again.returncode == 0 and "unchanged at 10 entries" in again.stdout
    append_entries(wired, 7)
    _checkpoint(wired)
    grown = _monitor(served, state)
    assert grown.returncode == 0 and grown.stdout.strip() == (
        f"OK: {wired.settings.ledger_origin} grew from 10 to 17 entries, consistent"
    )

    _cut_tail(wired, keep=12)
    append_entries(wired, 2)
    _checkpoint(wired)  # 14 entries, signed by the archive's own key
    cut = _monitor(served, state)
    assert cut.returncode == 1, cut.stdout
    assert "cut short" in cut.stdout and "14" in cut.stdout and "17" in cut.stdout
    assert json.loads(state.read_text())["size"] == 17  # the alarm does not move the state


@FILE_STORE
def test_the_monitor_catches_a_rewritten_ledger(wired: Wired, served: str, tmp_path: Path) -> None:
    state = tmp_path / "monitor.json"
    append_entries(wired, 9)
    _checkpoint(wired)
    assert _monitor(served, state, "--key", wired.note_key.verifier.vkey).returncode == 0
    # Entries 6–9 deleted and others written in their place: more entries than before, a
    # different history for the ones already signed.
    _cut_tail(wired, keep=5)
    append_entries(wired, 11)
    _checkpoint(wired)
    rewritten = _monitor(served, state)
    assert rewritten.returncode == 1, rewritten.stdout
    assert "rewritten" in rewritten.stdout and "16 entries" in rewritten.stdout and "at 9" in rewritten.stdout

    stranger = notes.NoteKey(wired.settings.ledger_origin, Ed25519PrivateKey.generate()).verifier.vkey
    other = _monitor(served, tmp_path / "other.json", "--key", stranger)
    assert other.returncode == 1 and "pinned key" in other.stdout


def test_the_monitor_says_when_the_archive_cannot_be_reached(tmp_path: Path) -> None:
    down = _monitor(f"http://127.0.0.1:{free_port()}/public", tmp_path / "m.json")
    assert down.returncode == 75 and "UNREACHABLE" in down.stdout
    assert not (tmp_path / "m.json").exists()


# --- the witness ------------------------------------------------------------------------------


@pytest.fixture
def witness(wired: Wired, tmp_path: Path) -> Iterator[witnessing.Witness]:
    """scripts/witness.py serving on a loopback port, trusting this archive's checkpoint key."""
    name = "witness.example/w1"
    key = tmp_path / "witness.pem"
    vkey = subprocess.run(
        [sys.executable, str(WITNESS), "vkey", "--name", name, "--key", str(key)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    command = [
        sys.executable, str(WITNESS), "serve", "--name", name, "--key", str(key),
        "--state", str(tmp_path / "witness-state.json"), "--log-key", wired.note_key.verifier.vkey,
        "--port", "0",
    ]  # fmt: skip
    log = tmp_path / "witness.log"
    with log.open("w") as errors:  # the witness logs every request there: never a full pipe
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
    assert process.stdout is not None
    listening = process.stdout.readline().strip()
    assert listening.startswith(f"witness {name} listening on "), log.read_text()
    url = listening.rsplit(" ", 1)[1]
    wired.witnesses = witnessing.parse_witnesses(f"{url} {vkey}")
    yield wired.witnesses[0]
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()


def _cosignatures(wired: Wired) -> list[LedgerCosignature]:
    with wired.sessions() as session:
        return list(session.scalars(select(LedgerCosignature).order_by(LedgerCosignature.id)))


def _post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(f"{url}/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@FILE_STORE
def test_the_witness_cosigns_consistent_checkpoints(
    wired: Wired, witness: witnessing.Witness, public: TestClient, served: str, tmp_path: Path
) -> None:
    append_entries(wired, 4)
    made, answers = ledger_operations.checkpoint_and_witness(wired, force=True)
    assert made is not None and [(a.cosigned, a.status) for a in answers] == [(True, 200)]
    append_entries(wired, 9)
    made, answers = ledger_operations.checkpoint_and_witness(wired, force=True)
    assert made is not None and [(a.cosigned, a.tree_size) for a in answers] == [(True, made.tree_size)]
    assert [c.tree_size for c in _cosignatures(wired)] == [made.tree_size - 9, made.tree_size]

    # The feed carries the cosignature; checked here with plain Ed25519 over cosignature/v1.
    note = public.get(f"{PUBLIC}/checkpoints", params={"limit": 1}).json()["checkpoints"][0]["note"]
    body, lines = notes.split_note(note)
    cosigned = [s for s in lines if s.name == witness.key.name]
    assert len(cosigned) == 1 and cosigned[0].key_id == witness.key.key_id
    stamp = int.from_bytes(cosigned[0].signature[:8], "big")
    assert abs(stamp - time.time()) < 3600
    message = b"cosignature/v1\ntime " + str(stamp).encode() + b"\n" + body.encode()
    Ed25519PublicKey.from_public_bytes(witness.key.public).verify(cosigned[0].signature[8:], message)

    # The monitor checks the cosignature too, given the witness's key.
    watched = _monitor(served, tmp_path / "m.json", "--witness", witness.key.vkey)
    assert watched.returncode == 0, watched.stdout
    assert watched.stdout.strip().endswith(f"1 cosignature(s), cosigned by {witness.key.name}")

    # A checkpoint the witness already cosigned is not sent again.
    assert ledger_operations.checkpoint_and_witness(wired, force=True) == (None, [])


@FILE_STORE
@pytest.mark.parametrize("grow", [False, True], ids=["truncated", "rewritten"])
def test_the_witness_refuses_a_truncated_or_rewritten_ledger(
    wired: Wired, witness: witnessing.Witness, grow: bool
) -> None:
    append_entries(wired, 10)
    ledger_operations.checkpoint_and_witness(wired, force=True)
    assert [c.tree_size for c in _cosignatures(wired)] == [10]
    _cut_tail(wired, keep=6)
    # The tail is gone with the cosignature that covered it: the archive no longer knows the
    # witness saw 10 entries, and offers it a shorter ledger, or a longer one with a new history.
    append_entries(wired, 9 if grow else 2)
    with wired.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_cosignatures"))  # its triggers were dropped above
    made, answers = ledger_operations.checkpoint_and_witness(wired, force=True)
    assert made is not None and made.tree_size == (15 if grow else 8)
    [answer] = answers
    assert not answer.cosigned
    assert answer.status == (422 if grow else 409)
    assert _cosignatures(wired) == []
    # The serving loop does not send the refused checkpoint again; the command line does.
    assert ledger_operations.checkpoint_and_witness(wired) == (None, [])
    _, [again] = ledger_operations.checkpoint_and_witness(wired, force=True)
    assert not again.cosigned and again.status == answer.status
    # Straight to the witness: the same checkpoint with no proof at all is refused too.
    with wired.sessions() as session:
        note = session.get(witnessing.LedgerNote, made.tree_size)
        assert note is not None
    status, said = _post(witness.url, f"old 0\n\n{note.note}".encode())
    assert (status, said.strip()) == (409, "10")


@FILE_STORE
def test_the_witness_refuses_what_its_log_did_not_sign(wired: Wired, witness: witnessing.Witness) -> None:
    root = merkle_root(LEAVES)
    body = notes.checkpoint_text(origin=wired.settings.ledger_origin, tree_size=8, root=root)
    forged = notes.NoteKey(wired.settings.ledger_origin, Ed25519PrivateKey.generate())
    status, _ = _post(
        witness.url, f"old 0\n\n{notes.signed_note(body, forged.signature_line(body))}".encode()
    )
    assert status == 403
    elsewhere = notes.checkpoint_text(origin="other.example/log", tree_size=8, root=root)
    status, _ = _post(
        witness.url, f"old 0\n\n{notes.signed_note(elsewhere, forged.signature_line(elsewhere))}".encode()
    )
    assert status == 404
    signed = notes.signed_note(body, wired.note_key.signature_line(body))
    assert _post(witness.url, f"old 9\n\n{signed}".encode())[0] == 400  # old size past the checkpoint
    assert _post(witness.url, b"garbage")[0] == 400


@FILE_STORE
def test_verify_reports_the_cosignatures(
    wired: Wired, witness: witnessing.Witness, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("ledger", "key").output.strip() == wired.note_key.verifier.vkey
    append_entries(wired, 3)
    monkeypatch.setenv("CASEVAULT_WITNESSES", f"{witness.url} {witness.key.vkey}")
    signed = cli("ledger", "checkpoint")
    assert signed.exit_code == 0 and f"witness {witness.key.name}: cosigned " in signed.output, signed.output
    result = cli("ledger", "verify")
    assert result.exit_code == 0, result.output
    assert f"witness {witness.key.name}: 1 cosignature(s), newest at " in result.output
    report = json.loads(cli("ledger", "verify", "--json").output)
    [found] = report["cosignatures"]
    assert (found["witness"], found["valid"], found["reason"]) == (witness.key.name, True, None)

    # A cosignature whose signature no longer holds is named, and fails verify.
    [row] = _cosignatures(wired)
    signature = notes.parse_signature_line(row.line)
    flipped = signature.signature[:-1] + bytes([signature.signature[-1] ^ 1])  # always another byte
    broken = notes.Signature(signature.name, signature.key_id, flipped)
    with wired.sessions() as session:
        session.add(
            LedgerCosignature(
                tree_size=row.tree_size,
                witness=row.witness,
                key_id=row.key_id,
                cosigned_at=row.cosigned_at,
                line=broken.line,
            )
        )
        session.commit()
    failed = cli("ledger", "verify")
    assert failed.exit_code == 1, failed.output
    assert f"cosignature by {witness.key.name} at {row.tree_size} entries FAILS: " in failed.output
    assert "does not verify" in failed.output


def test_the_ledger_page_shows_the_cosignatures_verification_found(
    portal: Portal, witness: witnessing.Witness
) -> None:
    client = signed_in(portal, "security_auditor").client
    client.post("/ledger/verify", data={"csrf_token": session_csrf(portal)})
    assert "尚无见证方联署签名" in client.get("/ledger").text
    made, answers = ledger_operations.checkpoint_and_witness(portal.wired, force=True)
    assert made is not None and answers[0].cosigned
    done = client.post("/ledger/verify", data={"csrf_token": session_csrf(portal)}, follow_redirects=False)
    assert done.status_code == 303
    page = client.get("/ledger").text
    assert f"见证方 {witness.key.name} 已联署 1 个检查点，最新一个覆盖 {made.tree_size} 条记录" in page
    english = client.get("/ledger", params={"lang": "en"}).text
    assert (
        f"Witness {witness.key.name} has cosigned 1 checkpoints, the newest covering {made.tree_size}"
        in english
    )


@FILE_STORE
def test_the_witness_takes_one_of_two_racing_checkpoints_and_never_moves_back(
    wired: Wired, witness: witnessing.Witness
) -> None:
    def signed(size: int, leaves: list[bytes] = LEAVES) -> str:
        body = notes.checkpoint_text(
            origin=wired.settings.ledger_origin, tree_size=size, root=merkle_root(leaves[:size])
        )
        return notes.signed_note(body, wired.note_key.signature_line(body))

    answers: list[int] = []
    racers = [
        threading.Thread(
            target=lambda n=n: answers.append(_post(witness.url, f"old 0\n\n{signed(n)}".encode())[0])
        )
        for n in (4, 8)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)
    assert sorted(answers) == [200, 409]
    status, size = _post(witness.url, f"old 0\n\n{signed(8)}".encode())
    held = int(size)  # the size it holds: 4 or 8, whichever came first
    assert status == 409 and held in (4, 8)
    # The same size with another root, and a proof that does not hold, are refused.
    other = [hashlib.sha256(b"\x00x").digest(), *LEAVES[1:]]
    assert _post(witness.url, f"old {held}\n\n{signed(held, other)}".encode())[0] == 409
    if held == 4:
        proof = consistency_path(first=4, leaves=LEAVES)
        flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
        wrong = "".join(base64.b64encode(node).decode() + "\n" for node in flipped)
        assert _post(witness.url, f"old 4\n{wrong}\n{signed(8)}".encode())[0] == 422
        right = "".join(
            base64.b64encode(node).decode() + "\n" for node in consistency_path(first=4, leaves=LEAVES)
        )
        status, line = _post(witness.url, f"old 4\n{right}\n{signed(8)}".encode())
        assert status == 200 and line.startswith(f"\u2014 {witness.key.name} ")
