"""S3Store over HTTP: Object Lock, COMPLIANCE retention, tags, checksums, multipart, versions."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import urllib3
from minio import Minio
from sqlalchemy import func, select

from archive.models import Bundle
from archive.s3store import S3Store
from portal.wiring import Wired

pytestmark = [
    pytest.mark.store("s3"),
]


def _head(store: S3Store, key: str, version_id: str | None) -> dict[str, str]:
    stat = store.client.stat_object(
        store.location.bucket, key, version_id=version_id, extra_headers={"x-amz-checksum-mode": "ENABLED"}
    )
    return {k.lower(): v for k, v in (stat.metadata or {}).items()}


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


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


def test_large_objects_go_multipart_with_a_checksum_per_part(
    wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = wired.store
    assert isinstance(store, S3Store)
    # The test server accepts any part checksum but echoes the one it was sent: record those.
    echoed: list[tuple[bytes, str | None]] = []
    execute = Minio._execute

    def recording(self: Minio, method: str, *args: Any, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        response = execute(self, method, *args, **kwargs)
        if "partNumber" in (kwargs.get("query_params") or {}):
            echoed.append((bytes(kwargs["body"]), response.headers.get("x-amz-checksum-sha256")))
        return response

    monkeypatch.setattr(Minio, "_execute", recording)
    data = os.urandom(12 << 20)
    writer = store.open_writer("probe/footage.mp4", tags={"classification": "none"})
    for start in range(0, len(data), 1 << 20):
        writer.write(data[start : start + (1 << 20)])
    version_id = writer.commit()
    assert [(len(part), checksum) for part, checksum in echoed] == [
        (len(part), _b64_sha256(part)) for part, _ in echoed
    ]
    assert b"".join(part for part, _ in echoed) == data
    head = _head(store, "probe/footage.mp4", version_id)
    assert head["etag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB
    assert head["x-amz-checksum-algorithm"] == "SHA256"
    # The whole object's checksum is the SHA-256 of its parts' (S3 may add "-3").
    parts = [data[: 5 << 20], data[5 << 20 : 10 << 20], data[10 << 20 :]]
    whole = _b64_sha256(b"".join(hashlib.sha256(part).digest() for part in parts))
    assert head["x-amz-checksum-sha256"].split("-")[0] == whole
    got = b"".join(store.read("probe/footage.mp4", version_id=version_id, start=7, length=100))
    assert got == data[7:107]
    assert hashlib.sha256(b"".join(store.read("probe/footage.mp4"))).digest() == hashlib.sha256(data).digest()


def test_an_unfinished_upload_is_listed_and_aborted_by_the_writer_or_by_discard(wired: Wired) -> None:
    store = wired.store
    assert isinstance(store, S3Store)
    key = "probe/询问 笔录.bin"  # listed URL-encoded: the store gives the key back as written
    left_open = store.open_writer(key, tags={})
    left_open.write(os.urandom(store.part_size + 1))  # one part sent, the upload still open
    [pending] = store.list_pending("probe/")
    assert pending.key == key
    assert pending.upload_id
    assert store.discard(pending) == "unfinished upload aborted"
    assert list(store.list_pending("probe/")) == []
    aborted = store.open_writer(key, tags={})
    aborted.write(os.urandom(store.part_size + 1))
    assert [item.key for item in store.list_pending("probe/")] == [key]
    aborted.abort()
    assert list(store.list_pending("probe/")) == []
    assert list(store.list("probe/")) == []


def test_the_sdk_method_the_writes_go_through_keeps_its_shape(wired: Wired) -> None:
    # archive/s3store.py makes the requests the public API cannot through Minio._execute, by
    # these names; a minio release that changes them must fail here before its pin is raised.
    assert isinstance(wired.store, S3Store)
    signature = inspect.signature(wired.store.client._execute, eval_str=True)
    named = ["method", "bucket_name", "object_name", "body", "headers", "query_params"]
    assert list(signature.parameters)[: len(named)] == named
    assert all(signature.parameters[name].default is None for name in named[1:])
    assert signature.return_annotation is urllib3.BaseHTTPResponse


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
