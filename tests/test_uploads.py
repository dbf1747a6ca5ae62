"""Resumable uploads at `/api/v1/uploads`, the tus 1.0 protocol (core, creation, termination) as
any tus client speaks it: discovery, creation bounded by the maximum, HEAD for the offset, PATCH
that continues where an interrupted one stopped, termination — each upload its creator's alone."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from access import identities
from access.models import User
from archive import staging
from portal.app import body_limits
from tests.support.portal import PASSWORD, Portal
from tests.support.web import session_csrf, signed_in

pytestmark = pytest.mark.store("file")

TUS = {"Tus-Resumable": "1.0.0"}
STREAM = {"Content-Type": "application/offset+octet-stream"}
DATA = bytes(range(256)) * 4096  # 1 MiB


def headers(portal: Portal, role: str = "archivist", **more: str) -> dict[str, str]:
    return {**portal.as_role(role), **TUS, **more}


def create(portal: Portal, length: int = len(DATA), role: str = "archivist", **more: str) -> Any:
    return portal.client.post(
        "/api/v1/uploads", headers=headers(portal, role, **{"Upload-Length": str(length)}, **more)
    )


def offset(portal: Portal, url: str, role: str = "archivist") -> Any:
    return portal.client.head(url, headers=headers(portal, role))


def patch(portal: Portal, url: str, at: int, body: bytes, role: str = "archivist") -> Any:
    return portal.client.patch(
        url, content=body, headers=headers(portal, role, **STREAM, **{"Upload-Offset": str(at)})
    )


def test_discovery_says_version_extensions_and_maximum(portal: Portal) -> None:
    answer = portal.client.options("/api/v1/uploads")
    assert answer.status_code == 204
    assert answer.headers["tus-version"] == "1.0.0"
    assert answer.headers["tus-resumable"] == "1.0.0"
    assert set(answer.headers["tus-extension"].split(",")) == {"creation", "termination"}
    assert int(answer.headers["tus-max-size"]) == portal.wired.settings.deposit_limit_bytes


def test_create_head_patch_in_two_parts(portal: Portal) -> None:
    made = create(
        portal,
        **{"Upload-Metadata": "path " + base64.b64encode("案卷/录像.mp4".encode()).decode() + ",empty"},
    )
    assert made.status_code == 201, made.text
    url = made.headers["location"]
    assert url == f"/api/v1/uploads/{made.json()['id']}" and made.json()["offset"] == 0
    head = offset(portal, url)
    assert head.status_code == 200
    assert (head.headers["upload-offset"], head.headers["upload-length"]) == ("0", str(len(DATA)))
    assert head.headers["cache-control"] == "no-store"
    assert "path " + base64.b64encode("案卷/录像.mp4".encode()).decode() in head.headers["upload-metadata"]
    first = patch(portal, url, 0, DATA[:300_000])
    assert first.status_code == 204 and first.headers["upload-offset"] == "300000"
    # a PATCH that does not start where the upload stands is refused and changes nothing
    wrong = patch(portal, url, 0, DATA[:10])
    assert wrong.status_code == 409 and "stands at 300000" in wrong.json()["detail"]
    rest = patch(portal, url, 300_000, DATA[300_000:])
    assert rest.status_code == 204 and rest.headers["upload-offset"] == str(len(DATA))
    assert offset(portal, url).headers["upload-offset"] == str(len(DATA))
    # past the declared length: refused
    assert patch(portal, url, len(DATA), b"more").status_code == 413


def _interrupted_patch(portal: Portal, url: str, at: int, first: bytes, declared: int) -> None:
    """A PATCH whose sender goes away after `first` of `declared` bytes, as the ASGI server tells
    the app when the connection drops."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": first, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []
    sent_headers = headers(portal, **STREAM, **{"Upload-Offset": str(at), "Content-Length": str(declared)})

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # nothing more ever comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PATCH",
        "scheme": "https",
        "path": url,
        "raw_path": url.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in sent_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    asyncio.run(portal.client.app(scope, receive, send))


def test_an_interrupted_patch_keeps_what_arrived_and_the_next_one_continues_there(portal: Portal) -> None:
    url = create(portal).headers["location"]
    assert patch(portal, url, 0, DATA[:100_000]).status_code == 204
    _interrupted_patch(portal, url, 100_000, DATA[100_000:400_000], declared=len(DATA) - 100_000)
    head = offset(portal, url)
    assert head.headers["upload-offset"] == "400000"  # the bytes that arrived before the drop
    done = patch(portal, url, 400_000, DATA[400_000:])
    assert done.status_code == 204 and done.headers["upload-offset"] == str(len(DATA))
    upload_id = url.rsplit("/", 1)[1]
    data = portal.wired.settings.resolved_staging_dir / "uploads" / upload_id / "data"
    assert data.read_bytes() == DATA


def test_staged_outside_the_archive_store(portal: Portal) -> None:
    url = create(portal).headers["location"]
    patch(portal, url, 0, DATA)
    store = portal.wired.store
    assert not [i for i in [*store.list(""), *store.list_pending("")] if "uploads" in i.key]
    staging = portal.wired.settings.resolved_staging_dir
    assert (staging / "uploads" / url.rsplit("/", 1)[1] / "data").stat().st_size == len(DATA)


def test_the_maximum_and_the_protocol_are_enforced(portal: Portal) -> None:
    limit = portal.wired.settings.deposit_limit_bytes
    too_big = create(portal, length=limit + 1)
    assert too_big.status_code == 413
    assert too_big.json()["detail"] == f"Upload-Length: {limit + 1} bytes; a deposit may hold at most 20 GiB"
    no_version = portal.client.post(
        "/api/v1/uploads", headers={**portal.as_role("archivist"), "Upload-Length": "5"}
    )
    assert no_version.status_code == 412 and no_version.headers["tus-version"] == "1.0.0"
    no_length = portal.client.post("/api/v1/uploads", headers=headers(portal))
    assert no_length.status_code == 400 and no_length.json()["detail"].startswith("Upload-Length: ")
    bad_metadata = create(portal, **{"Upload-Metadata": "path not-base64!"})
    assert bad_metadata.status_code == 400 and "Upload-Metadata: path" in bad_metadata.json()["detail"]
    url = create(portal).headers["location"]
    wrong_type = portal.client.patch(url, content=b"x", headers=headers(portal, **{"Upload-Offset": "0"}))
    assert wrong_type.status_code == 415


def test_an_upload_is_its_creator_s_alone(portal: Portal) -> None:
    with portal.wired.sessions() as session:
        identities.create_user(
            session,
            username="archivist-2",
            role="archivist",
            actor="test",
            now=datetime.now(UTC),
            password=PASSWORD,
        )
        session.commit()
    answer = portal.client.post("/api/v1/token", data={"username": "archivist-2", "password": PASSWORD})
    portal.tokens["archivist_2"] = answer.json()["access_token"]
    url = create(portal).headers["location"]
    patch(portal, url, 0, DATA[:1000])
    other = {"Authorization": f"Bearer {portal.tokens['archivist_2']}", **TUS}
    assert portal.client.head(url, headers=other).status_code == 404
    assert (
        portal.client.patch(
            url, content=b"x", headers={**other, **STREAM, "Upload-Offset": "1000"}
        ).status_code
        == 404
    )
    assert portal.client.delete(url, headers=other).status_code == 404
    assert offset(portal, url).headers["upload-offset"] == "1000"  # untouched
    # a role that may not deposit cannot even start one (refused and ledgered)
    assert create(portal, role="supervisor").status_code == 403
    # nor can anyone signed out
    assert portal.client.head(url, headers=TUS).status_code == 401


def test_termination_removes_the_upload(portal: Portal) -> None:
    url = create(portal).headers["location"]
    patch(portal, url, 0, DATA[:10])
    gone = portal.client.delete(url, headers=headers(portal))
    assert gone.status_code == 204
    assert offset(portal, url).status_code == 404
    assert not (portal.wired.settings.resolved_staging_dir / "uploads" / url.rsplit("/", 1)[1]).exists()


def test_a_browser_session_needs_the_csrf_header(portal: Portal) -> None:
    signed_in(portal, "archivist")
    refused = portal.client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "3"})
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "csrf"
    made = portal.client.post(
        "/api/v1/uploads", headers={**TUS, "Upload-Length": "3", "X-CSRF-Token": session_csrf(portal)}
    )
    assert made.status_code == 201


def test_a_second_patch_while_one_is_under_way_is_409(portal: Portal) -> None:
    url = create(portal).headers["location"]
    upload = staging.find_upload(
        root=portal.wired.settings.resolved_staging_dir, upload_id=url.rsplit("/", 1)[1], owner=_owner(portal)
    )
    with staging.appending(upload=upload, offset=0) as out:  # the first PATCH, still receiving
        out.write(DATA[:10])
        second = patch(portal, url, 0, DATA[:10])
    assert second.status_code == 409 and "another PATCH is under way" in second.json()["detail"]
    assert offset(portal, url).headers["upload-offset"] == "10"


def test_uploads_and_deposits_get_the_deposit_limit_not_the_form_limit(portal: Portal) -> None:
    limits = body_limits(portal.wired.settings, uploads=True)
    assert limits.of("/api/v1/uploads/" + "a" * 32) == portal.wired.settings.deposit_limit_bytes
    assert limits.of("/api/v1/deposits") == portal.wired.settings.deposit_limit_bytes
    assert limits.of("/api/v1/uploads") == portal.wired.settings.body_limit_bytes  # creation has no body


def test_uploads_left_alone_are_swept(portal: Portal) -> None:
    url = create(portal).headers["location"]
    root = portal.wired.settings.resolved_staging_dir
    later = datetime.now(UTC) + timedelta(hours=portal.wired.settings.upload_expiry_hours + 1)
    assert staging.sweep(root=root, now=later, older_than=timedelta(hours=72)) == [url.rsplit("/", 1)[1]]
    assert offset(portal, url).status_code == 404


def _owner(portal: Portal) -> int:
    with portal.wired.sessions() as session:
        return int(session.scalar(select(User.id).where(User.username == "archivist")))
