"""`casevault keys rotate seal|checkpoint|token|id-number`: a new key signs (or seals) from then on,
everything the old one signed still verifies (or opens), every rotation is in the ledger — and
the old key signs nothing new: a seal, a checkpoint note or a token made with it after its
retirement is refused, as is a seal by a key the archive never held."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jose import jwt
from sqlalchemy import select

from access import checkpoints, id_numbers, notes, tokens, witnessing
from access.ledger import LedgerEntry
from access.models import Applicant
from archive import keyfiles
from archive.seal import KeyRetired, Keyring, SealInvalid, sign_seal, verify_seal
from portal.wiring import Wired
from tests.support.bundles import Cli, deposit
from tests.support.disclosure_pages import ID_NUMBER, MONDAY, as_role, at, file_request, post, take
from tests.support.portal import Portal, append_entries
from tests.support.public import API, applicant

pytestmark = [pytest.mark.store("file")]
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def rotate(cli: Cli, kind: str) -> list[dict[str, Any]]:
    result = cli("keys", "rotate", kind, "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output)["rotated"])


def rotations(wired: Wired) -> list[dict[str, Any]]:
    with wired.sessions() as session:
        query = select(LedgerEntry).where(LedgerEntry.action == "keys.rotate").order_by(LedgerEntry.seq)
        return [entry.detail | {"actor": entry.actor} for entry in session.scalars(query)]


def ok(cli: Cli, *args: Any) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return str(result.output)


# --- the seal key ------------------------------------------------------------------------------


def test_seals_under_each_of_three_keys_verify_in_the_archive_and_as_exported_bags(
    portal: Portal, cli: Cli, make_case: Callable[..., Path], tmp_path: Path
) -> None:
    wired = portal.wired
    first = portal.bundle_id
    append_entries(wired, 1)
    ok(cli, "ledger", "checkpoint")
    (one,) = rotate(cli, "seal")
    second = deposit(cli, make_case, "深民防罚〔2026〕31号")
    ok(cli, "ledger", "checkpoint")
    printed = ok(cli, "keys", "rotate", "seal")
    assert "rotated seal key:" in printed and "(ledgered)" in printed
    third = deposit(cli, make_case, "深民防罚〔2026〕32号")
    ok(cli, "ledger", "checkpoint")

    # Three keys, one current; the retired two say when, and each one's seal names it.
    jwks = portal.client.get("/api/v1/ledger/jwks", headers=portal.as_role("security_auditor")).json()
    kids = {k["kid"]: k.get("retired_at") for k in jwks["keys"]}
    assert len(kids) == 3 and [kid for kid, retired in kids.items() if retired is None] == [
        wired.keyring.signing_key()[0]
    ]
    ledgered = rotations(wired)
    two = ledgered[1]
    assert (ledgered[0]["key"], ledgered[0]["old"], ledgered[0]["new"]) == ("seal", one["old"], one["new"])
    assert two["old"] == one["new"] and ledgered[0]["actor"].startswith("cli:")
    assert not list((wired.settings.data_dir / "keys").glob(f"{one['old']}.pem"))  # its private half is gone

    verified = json.loads(ok(cli, "verify", "--all", "--json"))
    assert verified["intact"] and {b["bundle_id"] for b in verified["bundles"]} >= {first, second, third}
    published = tmp_path / "jwks.json"
    published.write_text(json.dumps(jwks))
    for n, bundle_id in enumerate((first, second, third)):
        bag = tmp_path / f"bag{n}"
        ok(cli, "export", bundle_id, bag)
        assert {k["kid"] for k in json.loads((bag / "jwks.json").read_text())["keys"]} == set(kids)
        assert "intact" in ok(cli, "verify-bag", bag)
        assert "intact" in ok(cli, "verify-bag", bag, "--jwks", published)

    # Checkpoints signed before and after each rotation verify, each under its own key.
    with wired.sessions() as session:
        signed = {c.kid for c in session.scalars(select(checkpoints.LedgerCheckpoint))}
    assert signed == set(kids)
    assert "ledger intact" in ok(cli, "ledger", "verify")
    oldest = one["old"]
    with wired.sessions() as session:
        first_size = min(c.tree_size for c in session.scalars(select(checkpoints.LedgerCheckpoint)))
    proof = portal.client.get(
        f"/api/v1/ledger/entries/1/proof?tree_size={first_size}", headers=portal.as_role("security_auditor")
    ).json()
    assert proof["checkpoint"]["kid"] == oldest
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(json.dumps(proof))
    checked = subprocess.run(
        [sys.executable, str(SCRIPTS / "verify_inclusion.py"), str(proof_file), "--jwks", str(published)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0 and oldest in checked.stdout, checked.stdout + checked.stderr
    page = portal.client.get("/admin/settings", headers=portal.as_role("sysadmin")).text
    assert all(kid in page for kid in kids)


def test_a_retired_key_signs_nothing_new_and_a_stranger_key_is_refused(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "keys")
    old_kid, old_pem = keyring.signing_key()
    before = sign_seal({"bundle_id": "b1", "sealed_at": datetime.now(UTC).isoformat()}, keyring=keyring)
    leaked = tmp_path / "leaked.pem"
    leaked.write_text(old_pem)
    retired_at = datetime.now(UTC)
    assert keyring.rotate(clock=lambda: retired_at)[0] == old_kid
    jwks = keyring.jwks()
    assert verify_seal(before, jwks=jwks)["bundle_id"] == "b1"

    # The leaked private key put back and made current again: the keyring will not sign with it.
    shutil.copy(leaked, tmp_path / "keys" / f"{old_kid}.pem")
    (tmp_path / "keys" / "current").write_text(old_kid)
    with pytest.raises(KeyRetired):
        sign_seal({"bundle_id": "b2"}, keyring=keyring)

    # A seal made with it anyway, after its retirement, does not verify; nor one back-dated
    # without a readable time.
    later = (retired_at + timedelta(seconds=1)).isoformat()
    thief = holding(tmp_path / "thief", old_kid, old_pem)
    forged = sign_seal({"bundle_id": "b2", "sealed_at": later}, keyring=thief)
    with pytest.raises(SealInvalid, match="retired at"):
        verify_seal(forged, jwks=jwks)
    late = checkpoints.sign_checkpoint(
        tree_size=5, root_hash="00" * 32, created_at=retired_at + timedelta(seconds=1), keyring=thief
    )
    with pytest.raises(checkpoints.CheckpointInvalid, match="retired at"):
        checkpoints.verified_claims(late.signature, jwks=jwks)
    undated = sign_seal({"bundle_id": "b3"}, keyring=thief)
    with pytest.raises(SealInvalid, match="unreadable"):
        verify_seal(undated, jwks=jwks)

    # A key the keyring never held.
    stranger = Keyring(tmp_path / "stranger")
    with pytest.raises(SealInvalid, match="not in the JWKS"):
        verify_seal(sign_seal({"bundle_id": "b4", "sealed_at": later}, keyring=stranger), jwks=jwks)


def holding(folder: Path, kid: str, pem: str) -> Keyring:
    """A keyring elsewhere whose current key is the given private key (as a thief would set one up)."""
    folder.mkdir()
    (folder / f"{kid}.pem").write_text(pem)
    (folder / "current").write_text(kid)
    return Keyring(folder)


def crash_on(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make the first call of a `keyfiles` step die as a crash would, then behave again."""
    real = getattr(keyfiles, name)
    calls: list[int] = []

    def dying(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("crashed")
        real(*args)

    monkeypatch.setattr(keyfiles, name, dying)


def test_a_rotation_that_crashes_half_way_loses_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = Keyring(tmp_path / "keys")
    old_kid = keyring.signing_key()[0]
    # The new seal key is current and the old one's public half kept, but its private key not yet removed.
    crash_on(monkeypatch, "remove")
    with pytest.raises(OSError, match="crashed"):
        keyring.rotate(clock=lambda: datetime.now(UTC))
    new_kid = keyring.signing_key()[0]
    assert new_kid != old_kid and {k["kid"] for k in keyring.jwks()["keys"]} == {old_kid, new_kid}
    newest = keyring.rotate(clock=lambda: datetime.now(UTC))[1]  # the next rotation retires both
    assert [k["kid"] for k in keyring.jwks()["keys"] if k["retired_at"] is None] == [newest]
    assert sorted(p.stem for p in (tmp_path / "keys").glob("*.pem")) == [newest]

    # The note key: the old one is listed as retiring and the new one staged, not yet in place.
    path = tmp_path / "keys" / "ledger-note-key"
    old = notes.load_note_key(path, name="casevault.invalid/ledger")
    crash_on(monkeypatch, "move_into_place")
    with pytest.raises(OSError, match="crashed"):
        notes.rotate_note_key(path, name="casevault.invalid/ledger", clock=lambda: datetime.now(UTC))
    assert notes.load_note_key(path, name="casevault.invalid/ledger").verifier != old.verifier  # finished
    (retired,) = notes.retired_note_keys(path)
    assert retired.verifier == old.verifier and retired.retired_at is not None


# --- the checkpoint (note) key ------------------------------------------------------------------


def test_checkpoint_notes_before_and_after_a_rotation_verify_and_a_retired_key_cannot_add_one(
    wired: Wired, cli: Cli
) -> None:
    key_path = wired.settings.data_dir / "keys" / "ledger-note-key"
    append_entries(wired, 3)
    ok(cli, "ledger", "checkpoint")
    old_vkey = ok(cli, "ledger", "key").strip()
    old_private = notes.load_note_key(key_path, name=wired.settings.ledger_origin)
    (rotated,) = rotate(cli, "checkpoint")
    new_vkey = ok(cli, "ledger", "key").strip()
    assert rotated["vkey"] == new_vkey != old_vkey
    assert rotated["old"] == notes.parse_vkey(old_vkey).key_id.hex()
    assert (key_path.parent / "ledger-note-key.vkey").read_text() == new_vkey  # for a public portal
    append_entries(wired, 2)
    ok(cli, "ledger", "checkpoint")

    with wired.sessions() as session:
        stored = {n.tree_size: n.note for n in session.scalars(select(witnessing.LedgerNote))}
    (first, second) = sorted(stored)
    notes.verify_note(stored[first], notes.parse_vkey(old_vkey))
    notes.verify_note(stored[second], notes.parse_vkey(new_vkey))
    assert "ledger intact" in ok(cli, "ledger", "verify")
    assert [r["key"] for r in rotations(wired)] == ["checkpoint"]

    # The old key, kept by someone, signs the note of a checkpoint made after its retirement.
    append_entries(wired, 1)
    with wired.sessions() as session:
        now = datetime.now(UTC)
        made = checkpoints.maybe_checkpoint(
            session, keyring=wired.keyring, every_entries=1, every_minutes=0, now=now, force=True
        )
        assert made is not None
        text = witnessing.note_text(made, origin=old_private.name)
        session.add(
            witnessing.LedgerNote(
                tree_size=made.tree_size, note=notes.signed_note(text, old_private.signature_line(text))
            )
        )
        session.commit()
    refused = cli("ledger", "verify")
    assert refused.exit_code == 1 and f"checkpoint at {made.tree_size} entries" in refused.output
    assert "retired at" in refused.output


# --- the token secrets --------------------------------------------------------------------------


def test_tokens_signed_before_a_rotation_work_until_they_expire_and_a_retired_secret_mints_none(
    portal: Portal, cli: Cli
) -> None:
    wired = portal.wired
    before = portal.as_role("archivist")
    applicant_before = applicant(portal)
    secret = (wired.settings.data_dir / "keys" / "token-secret").read_text().strip()
    internal, public = rotate(cli, "token")
    assert portal.client.get(f"{API}/disclosures", headers=applicant_before).status_code == 200
    assert (internal["key"], public["key"]) == ("token", "public-token")
    assert internal["old"] == tokens.secret_id(secret) != internal["new"]
    assert [r["key"] for r in rotations(wired)] == ["token", "public-token"]

    assert portal.client.get("/api/v1/cases", headers=before).status_code == 200
    after = {"Authorization": f"Bearer {portal.token('archivist')}"}
    assert portal.client.get("/api/v1/cases", headers=after).status_code == 200

    # Minted with the retired secret after its retirement: refused though not expired.
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": "casevault", "aud": "casevault-internal", "sub": "archivist", "tv": 0}
    forged = jwt.encode(claims | {"iat": now + 120, "exp": now + 600}, secret, algorithm="HS256")
    at(portal, datetime.now(UTC) + timedelta(minutes=3))
    answer = portal.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401 and "retired" in answer.json()["detail"]

    # Past the longest lifetime the old secret is not accepted at all, not even for a token signed
    # before the rotation that claims to live longer; the new one still is.
    long_lived = jwt.encode(claims | {"iat": now - 5, "exp": now + 3600}, secret, algorithm="HS256")
    at(portal, datetime.now(UTC) + timedelta(minutes=wired.settings.token_minutes + 2))
    late = portal.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {long_lived}"})
    assert late.status_code == 401 and "retired" not in late.text
    assert portal.client.get("/api/v1/cases", headers=before).status_code == 401  # expired by now
    at(portal, datetime.now(UTC))
    assert portal.client.get("/api/v1/cases", headers=after).status_code == 200

    # A second rotation keeps only the secrets whose tokens may still be unexpired.
    rotate(cli, "token")
    kept = json.loads((wired.settings.data_dir / "keys" / "token-secret.retired").read_text())
    assert secret in {k["secret"] for k in kept}  # rotated a moment ago: its tokens live on
    assert portal.client.get("/api/v1/cases", headers=after).status_code == 200


def test_a_configured_token_secret_is_not_rotated_behind_the_operator(
    wired: Wired, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEVAULT_TOKEN_SECRET", "x" * 48)
    monkeypatch.setenv("CASEVAULT_PUBLIC_TOKEN_SECRET", "y" * 48)
    refused = cli("keys", "rotate", "token")
    assert refused.exit_code == 2 and "CASEVAULT_TOKEN_SECRET" in refused.output
    assert rotations(wired) == []
    unknown = cli("keys", "rotate", "everything")
    assert unknown.exit_code == 2 and "seal, checkpoint, token, id-number" in unknown.output


# --- the ID-number key --------------------------------------------------------------------------


def test_id_numbers_filed_before_a_rotation_are_resealed_and_still_revealed(portal: Portal, cli: Cli) -> None:
    wired = portal.wired
    keys = wired.settings.data_dir / "keys"
    at(portal, MONDAY)
    request_id = file_request(portal)
    old_key = id_numbers.load_private_key((keys / "id-number-key").read_text())

    (rotated,) = rotate(cli, "id-number")
    new_key = id_numbers.load_private_key((keys / "id-number-key").read_text())
    assert rotated["resealed"] >= 1 and rotated["old"] == id_numbers.key_id(old_key.public_key())
    assert rotated["public_key"] == (keys / "id-number-key.pub").read_text().strip()
    assert ok(cli, "id-number-key").strip() == rotated["public_key"]
    assert not (keys / "id-number-key.next").exists()
    (entry,) = rotations(wired)
    assert entry["key"] == "id-number" and entry["resealed"] == rotated["resealed"]
    with wired.sessions() as session:
        for applicant in session.scalars(select(Applicant)):
            sealed, name = applicant.id_number_sealed, applicant.user.username
            id_numbers.unseal(sealed, key=new_key, username=name)
            with pytest.raises(ValueError):
                id_numbers.unseal(sealed, key=old_key, username=name)  # the old key opens nothing now

    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    shown = post(portal, f"/disclosures/{request_id}/identity", {"reason": "电话核对申请人身份"})
    assert shown.status_code == 200 and f'<strong id="id-number">{ID_NUMBER}</strong>' in shown.text

    # Registered after the rotation: sealed to the new key.
    file_request(portal, username="lisi")
    with wired.sessions() as session:
        found = session.scalars(select(Applicant)).all()
        opened = [id_numbers.unseal(a.id_number_sealed, key=new_key, username=a.user.username) for a in found]
    assert len(opened) >= 2 and set(opened) == {ID_NUMBER}


def test_an_id_number_no_key_opens_stops_the_rotation_with_nothing_resealed(portal: Portal, cli: Cli) -> None:
    wired = portal.wired
    at(portal, MONDAY)
    file_request(portal)
    file_request(portal, username="lisi")
    stranger = id_numbers.load_private_key(id_numbers.new_private_key())
    with wired.sessions() as session:
        lisi = session.scalars(select(Applicant).join(Applicant.user)).all()[-1]
        name = lisi.user.username
        lisi.id_number_sealed = id_numbers.seal(ID_NUMBER, key=stranger.public_key(), username=name)
        session.commit()
        sealed_before = {a.id: a.id_number_sealed for a in session.scalars(select(Applicant))}

    refused = cli("keys", "rotate", "id-number")
    assert refused.exit_code == 2 and f"applicant {lisi.user.username}" in refused.output
    with wired.sessions() as session:
        assert {a.id: a.id_number_sealed for a in session.scalars(select(Applicant))} == sealed_before
    assert rotations(wired) == []
    # Meanwhile both keys open numbers, so nothing filed before or during is lost.
    assert (wired.settings.data_dir / "keys" / "id-number-key.next").exists()
    base64.b64decode((wired.settings.data_dir / "keys" / "id-number-key.pub").read_text())
