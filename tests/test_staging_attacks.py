"""Staging under attack: one person filling the disk with uploads, a folder upload whose paths
clash (a file that is also a folder), ZIP members the file system cannot hold, and links left in
staging for the sweep — each a refusal naming the path (never a 500, never a server path), and
the sweep never reaching outside staging."""

from __future__ import annotations

import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive import staging
from archive.errors import DepositRefused
from tests.support.portal import Portal

pytestmark = pytest.mark.store("file")

TUS = {"Tus-Resumable": "1.0.0"}
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIMIT = 1 << 20


def _create(portal: Portal, length: int, role: str = "archivist") -> Any:
    return portal.client.post(
        "/api/v1/uploads", headers={**portal.as_role(role), **TUS, "Upload-Length": str(length)}
    )


def test_one_person_never_stages_more_than_one_deposit_s_worth(portal: Portal) -> None:
    """Each upload within the maximum, but a hundred of them would fill the disk: the uploads one
    person has waiting count together; deleting one makes room; another person is not held up."""
    limit = portal.wired.settings.deposit_limit_bytes
    first = _create(portal, limit - 10)
    assert first.status_code == 201
    assert _create(portal, 10).status_code == 201
    more = _create(portal, 1)
    assert more.status_code == 413
    assert "bytes of your uploads wait in staging" in more.json()["detail"]
    assert _create(portal, 1, role="archive_manager").status_code == 201
    gone = portal.client.delete(first.headers["location"], headers={**portal.as_role("archivist"), **TUS})
    assert gone.status_code == 204
    assert _create(portal, 1).status_code == 201


def _upload(root: Path, path: str, data: bytes) -> staging.Upload:
    upload = staging.create_upload(
        root=root, owner=1, length=len(data), metadata={"path": path}, limit=LIMIT, now=NOW
    )
    upload.data.write_bytes(data)
    return upload


def test_a_folder_upload_with_a_file_that_is_also_a_folder_is_refused_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "staging"
    for order in (("records/a", "records/a/b.pdf"), ("records/a/b.pdf", "records/a")):
        uploads = [_upload(root, "case.json", b"{}")] + [_upload(root, p, b"x") for p in order]
        dest = staging.new_deposit_folder(root=root)
        with pytest.raises(DepositRefused, match=r"^records/a: the uploaded folder holds it both"):
            staging.lay_out_uploads(uploads=uploads, dest=dest, limit=LIMIT)
        for upload in uploads:
            staging.remove_upload(upload=upload)


def test_a_zip_member_the_file_system_cannot_hold_is_refused_without_a_server_path(tmp_path: Path) -> None:
    long_name = "records/" + "长" * 120 + ".pdf"  # 360 bytes: beyond a file name's 255
    deep = "records/" + "d/" * 2100 + "f.pdf"  # beyond a path's 4096
    for name in (long_name, deep):
        source = tmp_path / "deposit.zip"
        with zipfile.ZipFile(source, "w") as archive:
            archive.writestr("case.json", b"{}")
            archive.writestr(name, b"x")
        dest = staging.new_deposit_folder(root=tmp_path / "staging")
        with pytest.raises(DepositRefused) as refused:
            staging.unpack_zip(source=source, dest=dest, limit=LIMIT)
        said = str(refused.value)
        assert said.startswith(name[:20]) and "cannot be unpacked from the ZIP" in said
        assert str(tmp_path) not in said


def test_the_sweep_removes_links_never_what_they_point_at_and_survives_dangling_ones(
    tmp_path: Path,
) -> None:
    root = tmp_path / "staging"
    (root / "uploads").mkdir(parents=True)
    (root / "deposits").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("not staging's", encoding="utf-8")
    (root / "uploads" / "link").symlink_to(outside, target_is_directory=True)
    (root / "deposits" / "dangling").symlink_to(tmp_path / "nothing-here")
    old = (NOW - timedelta(days=10)).timestamp()
    for link in (root / "uploads" / "link", root / "deposits" / "dangling"):
        os.utime(link, (old, old), follow_symlinks=False)
    gone = staging.sweep(root=root, now=NOW, older_than=timedelta(hours=72))
    assert sorted(gone) == ["dangling", "link"]
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "not staging's"
    assert not (root / "uploads" / "link").is_symlink() and not (root / "deposits" / "dangling").is_symlink()


@pytest.mark.parametrize("value", ["²", "-5", "1e3", "9" * 5000, " 12"])
def test_byte_counts_that_are_not_plain_digits_are_400_naming_the_header(portal: Portal, value: str) -> None:
    """`Upload-Length` and `Upload-Offset` are ASCII digits: a superscript, a sign, an exponent or
    five thousand digits is a 400 naming the header, never a 500."""
    created = portal.client.post(
        "/api/v1/uploads",
        headers={**portal.as_role("archivist"), **TUS, "Upload-Length": value.encode("latin-1")},
    )
    assert created.status_code == 400, created.text
    assert created.json()["detail"].startswith("Upload-Length: ")
    url = _create(portal, 5).headers["location"]
    patched = portal.client.patch(
        url,
        content=b"x",
        headers={
            **portal.as_role("archivist"),
            **TUS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": value.encode("latin-1"),
        },
    )
    assert patched.status_code == 400 and patched.json()["detail"].startswith("Upload-Offset: ")
