"""Refused deposits: exit 2, one stderr line naming the field or path at fault, nothing written.

Every refusal here happens before the archive writes anything (ffprobe's, while the files are
stored: what they wrote is removed before the refusal is told), so most tests run against the
embedded backends only; one test repeats a refusal over PostgreSQL and the S3 API server.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from access.ledger import LedgerEntry
from archive.models import Bundle, BundleFile, Case, CaseRecord
from portal.cli.demo import case_document, pdf_bytes
from portal.wiring import Wired

Mutation = Callable[[dict[str, Any], Path], None]
AV = 8  # index of the footage record in case_document()
NOTICE = "records/告知书.pdf"  # records[3], a text record
FOOTAGE = "records/现场检查.mp4"  # records[AV]
E_ACUTE_NFC, E_ACUTE_NFD = "records/\u00e9.pdf", "records/e\u0301.pdf"
GB18030_CASE_JSON = json.dumps(case_document(), ensure_ascii=False).encode("gb18030")


def embedded(test: Callable[..., None]) -> Callable[..., None]:
    """Run a test on the FileStore only."""
    return pytest.mark.store("file")(test)


def assert_refusal_line(result: Any, *needles: str) -> None:
    """Exit 2 and exactly one `casevault: …` line on stderr that contains every needle."""
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert len(lines) == 1 and lines[0].startswith("casevault: "), result.stderr
    assert result.stdout == ""
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def assert_refused(result: Any, wired: Wired, *needles: str) -> None:
    """A refusal as above, and nothing written: no row in any archive table, no object."""
    assert_refusal_line(result, *needles)
    assert_nothing_written(wired)


def assert_nothing_written(wired: Wired) -> None:
    with wired.sessions() as session:
        for model in (Case, Bundle, BundleFile, CaseRecord, LedgerEntry):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model.__tablename__
    assert list(wired.store.list("bundles/")) == []


# --- ways to spoil a good deposit folder -------------------------------------------------------

_DROP = object()


def write_case(folder: Path, document: dict[str, Any]) -> None:
    (folder / "case.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def field(*loc: str | int, value: Any = _DROP) -> Mutation:
    """Set (or, without a value, remove) one field of case.json."""

    def mutate(document: dict[str, Any], folder: Path) -> None:
        *parents, last = loc
        target: Any = document
        for key in parents:
            target = target[key]
        if value is _DROP:
            del target[last]
        else:
            target[last] = value
        write_case(folder, document)

    return mutate


def file(rel: str, content: bytes) -> Mutation:
    """Write (or overwrite) one file in the folder."""

    def mutate(_document: dict[str, Any], folder: Path) -> None:
        (folder / rel).write_bytes(content)

    return mutate


def symlink(rel: str, target: str | None = None) -> Mutation:
    """Make `rel` a symbolic link: to `target` in the folder, or else to its own file moved outside."""

    def mutate(_document: dict[str, Any], folder: Path) -> None:
        link = folder / rel
        if target is None:
            dest = link.rename(folder.parent / f"{folder.name}-{link.name}")
        else:
            dest = folder / target
        link.symlink_to(dest)

    return mutate


def two_records_one_name(document: dict[str, Any], folder: Path) -> None:
    """records[0] and records[1] name the same file, spelt NFC and NFD."""
    (folder / E_ACUTE_NFC).write_bytes(pdf_bytes("e"))
    document["records"][0]["path"] = E_ACUTE_NFC
    document["records"][1]["path"] = E_ACUTE_NFD
    write_case(folder, document)


def two_files_one_name(document: dict[str, Any], folder: Path) -> None:
    """Two files on disk whose names differ only in Unicode normalisation; one is named."""
    (folder / E_ACUTE_NFC).write_bytes(pdf_bytes("nfc"))
    (folder / E_ACUTE_NFD).write_bytes(pdf_bytes("nfd"))
    document["records"][0]["path"] = E_ACUTE_NFC
    write_case(folder, document)


def remove_case_json(_document: dict[str, Any], folder: Path) -> None:
    (folder / "case.json").unlink()


def refusal(name: str, mutate: Mutation, *needles: str) -> Any:
    return pytest.param(mutate, needles, id=name)


def path(value: str) -> Mutation:
    return field("records", 0, "path", value=value)


REFUSALS = [
    # unknown enumeration values
    refusal(
        "enforcement_type", field("enforcement_type", value="punishment"), "enforcement_type", "'punishment'"
    ),
    refusal("stage", field("records", 0, "stage", value="appeal"), "records[0].stage", "'appeal'"),
    refusal("kind", field("records", 0, "kind", value="image"), "records[0].kind", "'image'"),
    refusal("doc_type", field("records", 0, "doc_type", value="memo"), "records[0].doc_type", "'memo'"),
    refusal(
        "activity",
        field("records", AV, "av", "activity", value="patrol"),
        f"records[{AV}].av.activity",
        "'patrol'",
    ),
    refusal(
        "classification-level",
        field("records", 0, "classification", "level", value="internal"),
        "records[0].classification.level",
        "'internal'",
    ),
    # missing or inconsistent fields
    refusal("missing-case_no", field("case_no"), "case_no", "required"),
    refusal("missing-title", field("records", 0, "title"), "records[0].title", "required"),
    refusal(
        "missing-av-stored_at",
        field("records", AV, "av", "stored_at"),
        f"records[{AV}].av.stored_at",
        "required",
    ),
    refusal(
        "state_secret-without-grade",
        field("records", 0, "classification", value={"level": "state_secret"}),
        "records[0].classification",
        "grade",
    ),
    refusal("duplicate-id", field("records", 1, "id", value="s1"), "records[1].id", "'s1'"),
    # unsafe paths
    refusal("absolute-path", path("/etc/hosts"), "records[0].path", "'/etc/hosts'"),
    refusal("dotdot-leading", path("../outside.pdf"), "records[0].path", "'../outside.pdf'"),
    refusal("dotdot-inside", path("records/../../x.pdf"), "records[0].path", "'records/../../x.pdf'"),
    refusal("symlink-named", symlink(NOTICE), NOTICE, "symbolic link"),
    refusal("symlink-not-named", symlink("extra.pdf", NOTICE), "extra.pdf", "symbolic link"),
    refusal("symlinked-folder", symlink("more", "records"), "more", "symbolic link"),
    refusal("symlinked-case-json", symlink("case.json"), "case.json"),
    refusal("nfc-equal-record-paths", two_records_one_name, "records[1].path", "records[0].path", "NFC"),
    refusal("nfc-equal-files-on-disk", two_files_one_name, E_ACUTE_NFC, "NFC"),
    # files and records disagree
    refusal(
        "named-but-missing", path("records/不存在.pdf"), "records[0].path", "records/不存在.pdf", "missing"
    ),
    refusal(
        "present-but-not-named", file("records/草稿.pdf", pdf_bytes("draft")), "records/草稿.pdf", "not named"
    ),
    # case.json itself
    refusal("invalid-json", file("case.json", b'{"case_no": "x",'), "case.json", "invalid JSON", "line 1"),
    refusal("case-json-not-utf8", file("case.json", GB18030_CASE_JSON), "case.json", "UTF-8"),
    refusal("case-json-not-an-object", file("case.json", b"[]"), "case.json", "top level"),
    refusal("case-json-nested-too-deeply", file("case.json", b"[" * 100_000 + b"]" * 100_000), "case.json"),
    refusal("no-case-json", remove_case_json, "case.json", "missing"),
    # contents that are not what they claim to be
    refusal("pdf-not-a-pdf", file(NOTICE, b"Microsoft Word 97 document"), NOTICE, "PDF"),
    refusal("av-unreadable", file(FOOTAGE, random.Random(7).randbytes(64 << 10)), FOOTAGE, "v1", "ffprobe"),
]


@embedded
@pytest.mark.parametrize(("mutate", "needles"), REFUSALS)
def test_refused(cli, wired: Wired, make_case, mutate: Mutation, needles: list[str]) -> None:
    document = case_document()
    folder = make_case(document)
    mutate(document, folder)
    assert_refused(cli("deposit", folder), wired, *needles)


@embedded
def test_folder_that_does_not_exist(cli, wired: Wired, tmp_path: Path) -> None:
    missing = tmp_path / "no such folder"
    assert_refused(cli("deposit", missing), wired, str(missing), "not a folder")


def test_refusal_writes_nothing_to_any_backend(cli, wired: Wired, make_case) -> None:
    """PostgreSQL and the S3 API server too: the refusal leaves no row and no object."""
    folder = make_case()
    (folder / NOTICE).write_bytes(b"not a pdf")
    assert_refused(cli("deposit", folder), wired, NOTICE)


@embedded
def test_refusal_leaves_earlier_version_intact(cli, wired: Wired, make_case) -> None:
    first = json.loads(cli("deposit", make_case(), "--json").stdout)
    objects = sorted(info.key for info in wired.store.list("bundles/"))

    bad = make_case()
    (bad / NOTICE).write_bytes(b"not a pdf")
    assert_refusal_line(cli("deposit", bad), NOTICE)
    assert sorted(info.key for info in wired.store.list("bundles/")) == objects
    with wired.sessions() as session:
        assert session.scalars(select(Bundle.id)).all() == [first["bundle_id"]]
        assert session.scalars(select(LedgerEntry.action)).all() == ["bundle.deposit"]
    assert cli("ledger", "verify").exit_code == 0
    assert cli("verify", first["bundle_id"]).exit_code == 0

    second = json.loads(cli("deposit", make_case(), "--json").stdout)
    assert second["case_no"] == first["case_no"]
    assert second["version"] == 2
    with wired.sessions() as session:
        bundle = session.get(Bundle, second["bundle_id"])
        assert bundle is not None and bundle.previous_id == first["bundle_id"]
        assert session.scalar(select(func.count()).select_from(Case)) == 1
    assert cli("ledger", "verify").exit_code == 0
