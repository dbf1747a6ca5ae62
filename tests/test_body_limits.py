"""Request bodies are bounded before they are read: the apps are called as ASGI apps directly, with
bodies streamed from a generator (never held whole), and answer 413 without growing."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from portal.app import create_app
from tests.support.portal import Portal

pytestmark = [
    pytest.mark.store("file"),
]

MiB = 1 << 20
CHUNK = b"x" * (64 << 10)
ATTACK = 300 * MiB
PAGE = 4096 if not hasattr(os, "sysconf") else os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """This process's resident memory now, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


@dataclass
class Exchange:
    """One request sent to an ASGI app: what it read of the body and what it answered."""

    sent: int = 0
    reads: int = 0
    peak_rss: int = 0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def call(
    app: Any,
    path: str,
    *,
    size: int,
    declared: bool = False,
    content_type: str = "application/json",
    accept: str = "application/json",
    head: bytes = b"",
    tail: bytes = b"",
) -> Exchange:
    """POST `size` bytes to `app` in 64 KiB chunks (chunked, or with Content-Length when `declared`):
    `head`, filler, then `tail`."""
    exchange = Exchange(peak_rss=rss())
    headers = [
        (b"host", b"testserver"),
        (b"content-type", content_type.encode()),
        (b"accept", accept.encode()),
    ]
    if declared:
        headers.append((b"content-length", str(size).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }

    async def receive() -> dict[str, Any]:
        exchange.reads += 1
        exchange.peak_rss = max(exchange.peak_rss, rss())
        if exchange.sent >= size:
            return {"type": "http.disconnect"}
        if exchange.sent == 0 and head:
            chunk = head
        elif exchange.sent + len(tail) >= size:
            chunk = tail
        else:
            # A fresh object each time, as a server would hand over: keeping them costs memory.
            chunk = bytes(bytearray(CHUNK[: size - len(tail) - exchange.sent]))
        exchange.sent += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": exchange.sent < size}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    exchange.peak_rss = max(exchange.peak_rss, rss())
    return exchange


def test_a_300_mb_streamed_registration_is_413_and_the_process_does_not_grow(portal: Portal) -> None:
    before = rss()
    answer = call(portal.client.app, "/public/api/v1/register", size=ATTACK)
    assert answer.status == 413
    assert b"at most 1 MiB" in answer.body
    assert answer.sent <= MiB + len(CHUNK)  # read up to the limit, then refused
    assert answer.peak_rss - before < 50 * MiB


def test_a_declared_300_mb_body_is_refused_before_a_byte_is_read(portal: Portal) -> None:
    answer = call(portal.client.app, "/public/api/v1/register", size=ATTACK, declared=True)
    assert answer.status == 413 and answer.sent == 0
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_public_app_served_alone_is_bounded_too(portal: Portal) -> None:
    alone = create_app(portal.wired, kind="public")
    answer = call(alone, "/public/api/v1/register", size=ATTACK)
    assert answer.status == 413 and answer.sent <= MiB + len(CHUNK)


def test_a_body_just_under_the_limit_is_read_and_judged_on_its_content(portal: Portal) -> None:
    answer = call(portal.client.app, "/public/api/v1/register", size=MiB)
    assert answer.status == 422  # all of it read, and found not to be JSON


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "chunked"])
def test_internal_forms_are_bounded(portal: Portal, declared: bool) -> None:
    form = "application/x-www-form-urlencoded"
    answer = call(portal.client.app, "/api/v1/token", size=2 * MiB, declared=declared, content_type=form)
    assert answer.status == 413 and answer.sent <= MiB + len(CHUNK)


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "chunked"])
def test_a_page_form_gets_an_html_413(portal: Portal, declared: bool) -> None:
    form = "application/x-www-form-urlencoded"
    answer = call(
        portal.client.app, "/login", size=2 * MiB, declared=declared, content_type=form, accept="text/html"
    )
    assert answer.status == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "提交的内容过大".encode() in answer.body


def test_uploads_have_their_own_limit(portal: Portal) -> None:
    portal.wired.settings = portal.wired.settings.model_copy(update={"upload_limit_bytes": 3 * MiB})
    app = create_app(portal.wired)
    upload: dict[str, Any] = {
        "content_type": "multipart/form-data; boundary=x",
        "accept": "text/html",
        "head": b'--x\r\nContent-Disposition: form-data; name="redaction_file"; filename="r.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n",
        "tail": b"\r\n--x--\r\n",
    }
    # Over the JSON/form limit, under the upload limit: read whole (then not signed in: a redirect).
    fits = call(app, "/disclosures/1/decision", size=2 * MiB, **upload)
    assert fits.status == 303 and fits.sent == 2 * MiB
    too_big = call(app, "/disclosures/1/decision", size=ATTACK, **upload)
    assert too_big.status == 413 and too_big.sent <= 3 * MiB + len(CHUNK)
    assert "单次提交最多 3 MiB。" in too_big.body.decode()  # the Chinese page names the limit
    # The upload limit is that route's alone.
    other = call(app, "/disclosures/1/assign", size=2 * MiB, **upload)
    assert other.status == 413
