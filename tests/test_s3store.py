"""S3Store over HTTP: Object Lock, COMPLIANCE retention, tags, checksums, multipart, versions."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from archive.models import Bundle
from archive.s3store import S3Store
from portal.wiring import Wired

pytestmark = [
    pytest.mark.store("s3"),
]


def _head(store: S3Store, key: str, version_id: str | None) -> dict[str, str]:
    query = {"versionId": version_id} if version_id else None
    response = store.client._execute(
        "HEAD",
        store.location.bucket,
        key,
        headers={"x-amz-checksum-mode": "ENABLED"},
        query_params=query,
    )
    return {k.lower(): v for k, v in response.headers.items()}


def _deposit(cli: Callable, folder) -> str:
    result = cli("deposit", folder, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["bundle_id"]


def test_every_sealed_object_is_locked_tagged_and_checksummed(cli, make_case, wired: Wired) -> None:
    bundle_id = _deposit(cli, make_case())
    store = wired.store
    assert isinstance(store, S3Store)
    with wired.sessions() as session:
        bundle = session.get(Bundle, bundle_id)
        assert bundle is not None
        files = list(bundle.files)
    assert bundle.retain_until == datetime(2056, 6, 30, tzinfo=UTC)  # closed 2026-06-30, 30 years
    for item in files:
        assert item.version_id, item.path
        assert store.current_version(item.key) == item.version_id
        head = _head(store, item.key, item.version_id)
        assert head["x-amz-object-lock-mode"] == "COMPLIANCE"
        assert store.retained_until(item.key, version_id=item.version_id) == bundle.retain_until
        if "-" not in head["etag"]:  # single PUT: the whole object's SHA-256
            expected = base64.b64encode(bytes.fromhex(item.sha256)).decode()
            assert head["x-amz-checksum-sha256"] == expected, item.path
        tags = store.client.get_object_tags(store.location.bucket, item.key, version_id=item.version_id)
        assert tags["bundle"] == bundle_id
        assert tags["case"] == "深民防罚_2026_12号"
    privacy = next(f for f in files if f.path.endswith("询问笔录.pdf"))
    tags = store.client.get_object_tags(store.location.bucket, privacy.key)
    assert (tags["classification"], tags["grade"]) == ("personal_privacy", "none")


def test_large_objects_go_multipart_with_a_checksum_per_part(wired: Wired) -> None:
    store = wired.store
    assert isinstance(store, S3Store)
    data = os.urandom(12 << 20)
    writer = store.open_writer("probe/footage.mp4", tags={"classification": "none"})
    for start in range(0, len(data), 1 << 20):
        writer.write(data[start : start + (1 << 20)])
    version_id = writer.commit()
    head = _head(store, "probe/footage.mp4", version_id)
    assert head["etag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB
    assert head["x-amz-checksum-algorithm"] == "SHA256"
    got = b"".join(store.read("probe/footage.mp4", version_id=version_id, start=7, length=100))
    assert got == data[7:107]
    assert hashlib.sha256(b"".join(store.read("probe/footage.mp4"))).digest() == hashlib.sha256(data).digest()


def test_a_key_cannot_be_written_twice(wired: Wired) -> None:
    from archive.errors import ObjectExists
    from archive.store import put_bytes

    put_bytes(wired.store, "probe/once.pdf", b"%PDF-1", tags={})
    with pytest.raises(ObjectExists, match=r"probe/once\.pdf"):
        put_bytes(wired.store, "probe/once.pdf", b"%PDF-2", tags={})


def test_bucket_is_created_with_object_lock(wired: Wired) -> None:
    store = wired.store
    assert isinstance(store, S3Store)
    response = store.client._execute("GET", store.location.bucket, query_params={"object-lock": ""})
    assert b"<ObjectLockEnabled>Enabled</ObjectLockEnabled>" in response.data


def test_store_down_gives_a_retry_hint_and_writes_nothing(
    cli, make_case, wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("CASEVAULT_STORE", f"s3://testing:testing@127.0.0.1:{closed_port}/gone?secure=false")
    result = cli("deposit", make_case())
    assert result.exit_code == 75
    assert "retry later" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    with wired.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Bundle)) == 0
