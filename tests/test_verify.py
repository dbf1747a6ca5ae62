"""`verify` and `verify-bag` catch tampering: exit 1, every failing path named, each check ledgered.

The archive's own copy is tampered with as someone with store access could: on the FileStore by
rewriting or deleting a file; on S3 (Object Lock, versioning) a version cannot be changed or
deleted, so the tamperer shadows it with a newer version or a delete marker.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jose import jws
from sqlalchemy import select

from access.ledger import LedgerEntry
from archive.s3store import S3Store
from archive.seal import Keyring, sign_seal
from archive.service import bundle_prefix
from archive.store import FileStore
from portal.wiring import Wired
from tests.support.bundles import PDF, Cli, change_object, deposit, flipped

file_store_only = pytest.mark.store("file")

MP4 = "data/records/现场检查.mp4"
SEAL = "seal.jws"
TAGMANIFEST = "tagmanifest-sha256.txt"


def failures_of(report: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["reason"] for f in report["failures"]}


def assert_failures(report: dict[str, Any], expected: dict[str, str]) -> None:
    """Exactly the expected paths fail, each for a reason containing the expected text."""
    assert report["intact"] is False
    got = failures_of(report)
    assert set(got) == set(expected), got
    for path, reason in expected.items():
        assert reason in got[path], (path, got[path])


def run_json(cli: Cli, *args: Any, exit_code: int = 1) -> dict[str, Any]:
    result = cli(*args, "--json")
    assert result.exit_code == exit_code, result.output
    return json.loads(result.output)


# --- tampering with the archive's copy -------------------------------------------------------


def remove_object(wired: Wired, key: str) -> None:
    store = wired.store
    if isinstance(store, FileStore):
        store.object_path(key).unlink()
        return
    assert isinstance(store, S3Store)
    store.client.remove_object(store.location.bucket, key)  # no version id: a delete marker


def expected_reason(wired: Wired, tamper: Callable[[Wired, str], None]) -> str:
    if isinstance(wired.store, S3Store):
        # The sealed version is still there and intact; the key now shows something else.
        return "another version"
    return "sha256 digest differs from the sealed one" if tamper is change_object else "missing"


def verified_outcomes(wired: Wired) -> list[tuple[str | None, str]]:
    with wired.sessions() as session:
        rows = session.execute(
            select(LedgerEntry.bundle_id, LedgerEntry.outcome)
            .where(LedgerEntry.action == "bundle.verify")
            .order_by(LedgerEntry.seq)
        )
        return [(bundle_id, outcome) for bundle_id, outcome in rows]


@pytest.mark.parametrize(
    ("path", "tamper"),
    [
        pytest.param(PDF, change_object, id="payload-byte-changed"),
        pytest.param(MP4, remove_object, id="payload-missing"),
        pytest.param("compliance.json", change_object, id="tag-file-changed"),
    ],
)
def test_verify_names_the_tampered_path(
    cli: Cli, make_case, wired: Wired, path: str, tamper: Callable[[Wired, str], None]
) -> None:
    bundle_id = deposit(cli, make_case)
    tamper(wired, bundle_prefix(bundle_id) + path)

    result = cli("verify", bundle_id)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"FAILED  {bundle_id}")
    assert f"\n  {path}: " in result.output
    report = run_json(cli, "verify", bundle_id)
    assert_failures(report["bundles"][0], {path: expected_reason(wired, tamper)})
    assert verified_outcomes(wired) == [(bundle_id, "failed")] * 2


def test_verify_names_every_failing_path_in_json(cli: Cli, make_case, wired: Wired) -> None:
    bundle_id = deposit(cli, make_case)
    prefix = bundle_prefix(bundle_id)
    change_object(wired, prefix + PDF)
    remove_object(wired, prefix + MP4)

    report = run_json(cli, "verify", bundle_id)
    assert report["intact"] is False
    [bundle] = report["bundles"]
    assert bundle["bundle_id"] == bundle_id
    assert bundle["case_no"] == "深民防罚〔2026〕12号"
    assert bundle["version"] == 1
    assert bundle["files"] == 17  # 9 records + 8 tag files
    assert all(set(f) == {"path", "reason"} for f in bundle["failures"])
    assert_failures(
        bundle,
        {
            PDF: expected_reason(wired, change_object),
            MP4: expected_reason(wired, remove_object),
        },
    )
    with wired.sessions() as session:
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "bundle.verify")).one()
        assert entry.outcome == "failed"
        assert sorted(entry.detail["failures"]) == sorted([PDF, MP4])


def test_verify_all_fails_when_one_of_two_bundles_is_damaged(cli: Cli, make_case, wired: Wired) -> None:
    intact = deposit(cli, make_case)
    damaged = deposit(cli, make_case, "深民防罚〔2026〕13号")
    change_object(wired, bundle_prefix(damaged) + PDF)

    result = cli("verify", "--all")
    assert result.exit_code == 1, result.output
    assert f"intact  {intact}" in result.output
    assert f"FAILED  {damaged}" in result.output
    report = run_json(cli, "verify", "--all")
    assert report["intact"] is False
    by_id = {b["bundle_id"]: b for b in report["bundles"]}
    assert set(by_id) == {intact, damaged}
    assert by_id[intact]["intact"] is True and by_id[intact]["failures"] == []
    assert_failures(by_id[damaged], {PDF: expected_reason(wired, change_object)})
    assert run_json(cli, "verify", intact, exit_code=0)["intact"] is True
    outcomes = [(intact, "intact"), (damaged, "failed")] * 2 + [(intact, "intact")]
    assert verified_outcomes(wired) == outcomes
    assert cli("ledger", "verify").exit_code == 0


# --- export ------------------------------------------------------------------------------------


def partial_exports(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if ".partial-" in p.name]


@file_store_only
def test_export_refuses_a_non_empty_destination(cli: Cli, make_case, tmp_path: Path) -> None:
    bundle_id = deposit(cli, make_case)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine", encoding="utf-8")

    result = cli("export", bundle_id, dest)
    assert result.exit_code == 2, result.output
    assert str(dest) in result.output and "already exists" in result.output
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]
    assert (dest / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert partial_exports(tmp_path) == []


@file_store_only
def test_export_of_a_damaged_bundle_writes_nothing(cli: Cli, make_case, wired: Wired, tmp_path) -> None:
    bundle_id = deposit(cli, make_case)
    change_object(wired, bundle_prefix(bundle_id) + MP4)
    dest = tmp_path / "dest"

    result = cli("export", bundle_id, dest)
    assert result.exit_code == 1, result.output
    assert "damaged" in result.output
    assert not dest.exists()
    assert partial_exports(tmp_path) == []


# --- verify-bag on an exported copy --------------------------------------------------------


def other_archive_jwks(tmp: Path) -> dict[str, Any]:
    """The published JWKS of another archive (a key this archive never used)."""
    keyring = Keyring(tmp / "other-archive-keys")
    keyring.signing_key()
    return keyring.jwks()


def rewrite_tagmanifest(bag: Path) -> str:
    """Make tagmanifest-sha256.txt agree with the tag files as they are now; returns its sha256."""
    lines = []
    for line in (bag / TAGMANIFEST).read_text(encoding="utf-8").splitlines():
        _digest, name = line.split(maxsplit=1)
        lines.append(f"{hashlib.sha256((bag / name).read_bytes()).hexdigest()}  {name}")
    body = ("\n".join(lines) + "\n").encode()
    (bag / TAGMANIFEST).write_bytes(body)
    return hashlib.sha256(body).hexdigest()


def add_finding(bag: Path) -> None:
    findings = [{"article": 16, "record_id": "v1", "severity": "warning", "message": "补录"}]
    (bag / "compliance.json").write_text(json.dumps(findings, ensure_ascii=False), encoding="utf-8")


def flip_payload(bag: Path) -> None:
    (bag / PDF).write_bytes(flipped((bag / PDF).read_bytes()))


def delete_payload(bag: Path) -> None:
    (bag / MP4).unlink()


def unlisted_file(name: str) -> Callable[[Path], None]:
    def add(bag: Path) -> None:
        (bag / "data/records" / name).write_text("not sealed", encoding="utf-8")

    return add


def edit_tag_file_and_tagmanifest(bag: Path) -> None:
    add_finding(bag)
    rewrite_tagmanifest(bag)


def flip_seal_signature(bag: Path) -> None:
    header, payload, signature = (bag / SEAL).read_text(encoding="ascii").strip().split(".")
    chars = list(signature)
    chars[10] = "A" if chars[10] != "A" else "B"
    (bag / SEAL).write_text(f"{header}.{payload}.{''.join(chars)}", encoding="ascii")


def replace_bag_jwks(bag: Path) -> None:
    (bag / "jwks.json").write_text(json.dumps(other_archive_jwks(bag.parent)), encoding="utf-8")


def forge_with_own_key(bag: Path) -> None:
    """A self-consistent forgery: edited tag file, new tag manifest, re-signed, own jwks.json."""
    add_finding(bag)
    claims = json.loads(jws.get_unverified_claims((bag / SEAL).read_text(encoding="ascii")))
    claims["tagmanifest_sha256"] = rewrite_tagmanifest(bag)
    forger = Keyring(bag.parent / "forger-keys")
    (bag / SEAL).write_bytes(sign_seal(claims, keyring=forger))
    (bag / "jwks.json").write_text(json.dumps(forger.jwks()), encoding="utf-8")


def untouched(bag: Path) -> None:
    del bag


@pytest.fixture
def exported(cli: Cli, make_case, tmp_path: Path) -> Path:
    bundle_id = deposit(cli, make_case)
    bag = tmp_path / "export" / "bag"
    result = cli("export", bundle_id, bag)
    assert result.exit_code == 0, result.output
    return bag


def write_jwks(where: Path, jwks: dict[str, Any]) -> Path:
    where.write_text(json.dumps(jwks), encoding="utf-8")
    return where


@file_store_only
@pytest.mark.parametrize(
    ("tamper", "trust", "expected"),
    [
        pytest.param(
            flip_payload,
            None,
            {PDF: "sha256 digest differs from manifest-sha256.txt"},
            id="payload-byte-changed",
        ),
        pytest.param(
            delete_payload, None, {MP4: "listed in manifest-sha256.txt but missing"}, id="payload-deleted"
        ),
        pytest.param(
            unlisted_file("补充.txt"),
            None,
            {"data/records/补充.txt": "present but not listed in manifest-sha256.txt"},
            id="unlisted-file-in-data",
        ),
        # Only the bag's own top-level jwks.json is not part of the bag.
        pytest.param(
            unlisted_file("jwks.json"),
            None,
            {"data/records/jwks.json": "present but not listed in manifest-sha256.txt"},
            id="unlisted-jwks.json-in-data",
        ),
        pytest.param(
            add_finding,
            None,
            {"compliance.json": "differs from tagmanifest-sha256.txt"},
            id="tag-file-changed",
        ),
        pytest.param(
            edit_tag_file_and_tagmanifest,
            None,
            {TAGMANIFEST: "differs from the digest the seal signs"},
            id="tag-file-and-tagmanifest-changed",
        ),
        pytest.param(
            flip_seal_signature, None, {SEAL: "signature does not verify"}, id="seal-signature-changed"
        ),
        pytest.param(replace_bag_jwks, None, {SEAL: "is not in the JWKS"}, id="jwks-of-another-key"),
        pytest.param(
            untouched, "other", {SEAL: "is not in the JWKS"}, id="published-jwks-of-another-archive"
        ),
        pytest.param(
            forge_with_own_key,
            "archive",
            {SEAL: "is not in the JWKS"},
            id="forged-seal-against-published-jwks",
        ),
    ],
)
def test_verify_bag_names_the_tampered_path(
    cli: Cli,
    wired: Wired,
    exported: Path,
    tmp_path: Path,
    tamper: Callable[[Path], None],
    trust: str | None,
    expected: dict[str, str],
) -> None:
    tamper(exported)
    args: list[Any] = ["verify-bag", exported]
    if trust is not None:
        keys = wired.keyring.jwks() if trust == "archive" else other_archive_jwks(tmp_path)
        args += ["--jwks", write_jwks(tmp_path / f"{trust}.jwks.json", keys)]

    result = cli(*args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("FAILED")
    for path in expected:
        assert f"\n  {path}: " in result.output
    assert_failures(run_json(cli, *args), expected)


@file_store_only
def test_verify_bag_names_every_failing_path(cli: Cli, exported: Path) -> None:
    flip_payload(exported)
    unlisted_file("补充.txt")(exported)
    flip_seal_signature(exported)
    assert_failures(
        run_json(cli, "verify-bag", exported),
        {
            PDF: "sha256 digest differs",
            "data/records/补充.txt": "present but not listed",
            SEAL: "signature does not verify",
        },
    )


@file_store_only
def test_verify_bag_accepts_an_intact_export_against_the_published_jwks(
    cli: Cli, wired: Wired, exported: Path, tmp_path: Path
) -> None:
    published = write_jwks(tmp_path / "published.jwks.json", wired.keyring.jwks())
    report = run_json(cli, "verify-bag", exported, "--jwks", published, exit_code=0)
    assert report["intact"] is True and report["failures"] == []
    assert report["case_no"] == "深民防罚〔2026〕12号"
    assert report["version"] == 1
