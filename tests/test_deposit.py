"""Depositing a case: what the archivist sees, what is stored, what the bag holds."""

from __future__ import annotations

import json
from pathlib import Path

import bagit
from sqlalchemy import func, select

from access.ledger import LedgerEntry
from archive.models import Bundle
from archive.store import read_bytes
from portal.cli.demo import case_document
from portal.wiring import Wired


def test_deposit_prints_bundle_case_version_and_seal(cli, make_case) -> None:
    result = cli("deposit", make_case())
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.output.splitlines())
    assert lines["case_no"] == "深民防罚〔2026〕12号"
    assert lines["version"] == "1"
    assert len(lines["bundle_id"]) == 32
    assert len(lines["seal_digest"]) == 64


def test_deposit_json_then_verify_and_ledger(cli, make_case, wired: Wired) -> None:
    out = json.loads(cli("deposit", make_case(), "--json").output)
    assert out["findings"] == []
    assert cli("verify", out["bundle_id"]).exit_code == 0
    with wired.sessions() as session:
        actions = session.scalars(select(LedgerEntry.action).order_by(LedgerEntry.seq)).all()
        bundle = session.get(Bundle, out["bundle_id"])
        assert bundle is not None
        assert {f.path for f in bundle.files} >= {
            "bagit.txt",
            "bag-info.txt",
            "manifest-sha256.txt",
            "manifest-sm3.txt",
            "tagmanifest-sha256.txt",
            "case.json",
            "compliance.json",
            "seal.jws",
            "data/records/现场检查.mp4",
        }
        # A record's key ends with its own file name, so an operator can find it.
        assert all(f.key.endswith(Path(f.path).name) for f in bundle.files)
    assert actions == ["bundle.deposit", "bundle.verify"]


def test_second_deposit_makes_version_two_linked_to_one(cli, make_case, wired: Wired) -> None:
    first = json.loads(cli("deposit", make_case(), "--json").output)
    second = json.loads(cli("deposit", make_case(), "--json").output)
    assert second["version"] == 2
    with wired.sessions() as session:
        bundle = session.get(Bundle, second["bundle_id"])
        assert bundle is not None and bundle.previous_id == first["bundle_id"]
        seal = read_bytes(wired.store, bundle.prefix + "seal.jws").decode()
    claims = json.loads(__import__("jose").jws.get_unverified_claims(seal))
    assert claims["previous_seal_digest"] == first["seal_digest"]
    assert claims["version"] == 2


def test_export_validates_with_library_of_congress_bagit(cli, make_case, tmp_path) -> None:
    out = json.loads(cli("deposit", make_case(), "--json").output)
    dest = tmp_path / "export"
    result = cli("export", out["bundle_id"], dest)
    assert result.exit_code == 0, result.output
    bag = bagit.Bag(str(dest))
    bag.validate()  # the independent checker
    assert bag.info["External-Identifier"] == "深民防罚〔2026〕12号"
    assert bag.info["Payload-Oxum"].endswith(".9")
    assert (dest / "jwks.json").is_file()
    assert cli("verify-bag", dest).exit_code == 0


def test_bundle_classification_is_the_highest_record(cli, make_case, wired: Wired) -> None:
    document = case_document()
    document["records"][3]["classification"] = {"level": "state_secret", "grade": "secret"}
    out = json.loads(cli("deposit", make_case(document), "--json").output)
    assert out["classification"] == "state_secret"
    with wired.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Bundle)) == 1
        bundle = session.get(Bundle, out["bundle_id"])
        assert bundle is not None and bundle.grade == "secret"
        info = read_bytes(wired.store, bundle.prefix + "bag-info.txt").decode()
    assert "Classification: state_secret/secret" in info
