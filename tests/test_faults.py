"""Store faults seen from outside: a damaged bundle is 409 "run verify" without the internal key, a
store that is down is 503 with Retry-After; each read is ledgered with what really happened, and
pages get HTML where the API gets JSON. Faults are made under the application, on both stores."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from access.ledger import LedgerEntry
from access.policy import Action, Context, Decision, record, resource_of
from archive import catalogue
from archive.models import BundleFile
from archive.s3store import S3Store
from archive.service import get_bundle
from archive.store import FileStore
from portal import wiring
from portal.internal.archive import operations
from portal.internal.ledger import pages as ledger_pages
from tests.support.disclosure_pages import MONDAY, as_role, at, file_request, reply, take
from tests.support.portal import Portal

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def stored_file(portal: Portal, record_id: str) -> BundleFile:
    """Where a record of the demo bundle is held."""
    with portal.wired.sessions() as session:
        found = catalogue.find_record(get_bundle(session, portal.bundle_id), record_id)
        assert found is not None
        return found[1]


def remove_under_the_app(portal: Portal, item: BundleFile) -> None:
    """Make the store lack a sealed object, going around the application."""
    store = portal.wired.store
    if isinstance(store, FileStore):
        store.object_path(item.key).unlink()
        return
    # A COMPLIANCE-locked version cannot be deleted (the server refuses, as MinIO would); what
    # happens instead is a bucket restored from a copy without its version history: the sealed
    # version id is one the bucket does not hold.
    assert isinstance(store, S3Store)
    with portal.wired.sessions() as session:
        session.execute(
            update(BundleFile).where(BundleFile.id == item.id).values(version_id="null-restored-copy")
        )
        session.commit()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redirect(monkeypatch: pytest.MonkeyPatch, store: S3Store, endpoint: str) -> None:
    """Send the store's requests to another endpoint (same bucket, same keys)."""
    at = store.location
    url = f"s3://{at.access_key}:{at.secret_key}@{endpoint}/{at.bucket}?secure=false"
    monkeypatch.setattr(store, "client", S3Store(url).client)


@pytest.fixture
def store_down(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Take the archive store away from under the running app."""
    store = portal.wired.store

    def take_away() -> None:
        if isinstance(store, FileStore):
            (store.root / "objects").rename(store.root / "objects.unmounted")
            return
        assert isinstance(store, S3Store)
        redirect(monkeypatch, store, f"127.0.0.1:{closed_port()}")

    return take_away


def last_read(portal: Portal, action: str = "record.view") -> LedgerEntry:
    with portal.wired.sessions() as session:
        entry = session.scalars(
            select(LedgerEntry).where(LedgerEntry.action == action).order_by(LedgerEntry.seq.desc())
        ).first()
        assert entry is not None
        return entry


def content(portal: Portal, record_id: str, **params: str) -> str:
    return f"/api/v1/bundles/{portal.bundle_id}/records/{record_id}/content" + (
        "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    )


# --- the API ----------------------------------------------------------------------------------


def test_a_record_read_that_works_is_ledgered_allowed(portal: Portal) -> None:
    response = portal.client.get(content(portal, "d1"), headers=portal.as_role("archivist"))
    assert response.status_code == 200
    entry = last_read(portal)
    assert (entry.outcome, entry.record_id, entry.actor) == ("allowed", "d1", "archivist")


@pytest.mark.parametrize("record_id", ["d1", "v1"])
def test_an_object_missing_from_the_store_is_409_damaged_without_the_key(
    portal: Portal, record_id: str
) -> None:
    item = stored_file(portal, record_id)
    remove_under_the_app(portal, item)
    response = portal.client.get(content(portal, record_id), headers=portal.as_role("archivist"))
    assert response.status_code == 409
    assert response.json() == {"detail": f"damaged: run casevault verify {portal.bundle_id}"}
    assert item.key not in response.text and item.key.rsplit("/", 1)[-1] not in response.text
    entry = last_read(portal)
    assert (entry.outcome, entry.record_id) == ("damaged", record_id)


def test_a_download_of_a_missing_original_is_ledgered_damaged(portal: Portal) -> None:
    remove_under_the_app(portal, stored_file(portal, "d1"))
    response = portal.client.get(content(portal, "d1", download="true"), headers=portal.as_role("archivist"))
    assert response.status_code == 409 and "verify" in response.json()["detail"]
    assert last_read(portal, "record.original").outcome == "damaged"


def test_a_record_the_last_verify_found_bad_is_409_damaged_until_an_intact_verify(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known bad from the ledger, not from the store: no byte of it is read, original or copy."""
    item = stored_file(portal, "d1")
    with portal.wired.sessions() as session:  # a sealed digest the stored bytes no longer match
        session.execute(update(BundleFile).where(BundleFile.id == item.id).values(sha256="0" * 64))
        session.commit()
    (report,) = operations.verify(portal.wired, bundle_id=portal.bundle_id, actor="cli:operator")
    assert [f.path for f in report.failures] == [item.path]
    with portal.wired.sessions() as session:
        session.execute(update(BundleFile).where(BundleFile.id == item.id).values(sha256=item.sha256))
        refused = Decision(False, "clearance", "a verify refused after the failed one checked nothing")
        record(
            session,
            subject=wiring.operator(portal.wired, "cli:uncleared"),
            action=Action.bundle_verify,
            resource=resource_of(get_bundle(session, portal.bundle_id)),
            context=Context(now=portal.wired.clock(), source="cli"),
            decision=refused,
        )
        session.commit()
    reads = portal.wired.store.read

    def no_read(*args: object, **kwargs: object) -> object:
        raise AssertionError("the store was read for a record known bad")

    monkeypatch.setattr(portal.wired.store, "read", no_read)
    for role, action, params in (
        ("archivist", "record.view", {}),
        ("archivist", "record.original", {"download": "true"}),
        ("disclosure_officer", "record.view", {}),  # the stamped copy
    ):
        response = portal.client.get(content(portal, "d1", **params), headers=portal.as_role(role))
        assert response.status_code == 409, (role, action)
        assert response.json() == {"detail": f"damaged: run casevault verify {portal.bundle_id}"}
        entry = last_read(portal, action)
        assert (entry.outcome, entry.actor, entry.record_id) == ("damaged", role.replace("_", "-"), "d1")
    monkeypatch.setattr(portal.wired.store, "read", reads)
    untouched = portal.client.get(content(portal, "v1"), headers=portal.as_role("archivist"))
    assert untouched.status_code == 200  # only the file the verify named
    (again,) = operations.verify(portal.wired, bundle_id=portal.bundle_id, actor="cli:operator")
    assert again.intact
    response = portal.client.get(content(portal, "d1"), headers=portal.as_role("archivist"))
    assert response.status_code == 200 and last_read(portal).outcome == "allowed"


def test_a_refused_read_stays_denied_when_the_object_is_missing(portal: Portal) -> None:
    """The policy still comes first: a caller who may not read learns nothing of the damage."""
    remove_under_the_app(portal, stored_file(portal, "d1"))
    response = portal.client.get(content(portal, "d1"), headers=portal.as_role("sysadmin"))
    assert response.status_code == 403 and "verify" not in response.text
    assert last_read(portal).outcome == "denied"


def test_the_store_down_is_503_with_retry_after_and_ledgered_unavailable(
    portal: Portal, store_down: Callable[[], None]
) -> None:
    headers = portal.as_role("archivist")
    store_down()
    response = portal.client.get(content(portal, "v1"), headers=headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.headers["content-type"].startswith("application/json")
    assert "object store is unavailable" in response.json()["detail"]
    assert stored_file(portal, "v1").key not in response.text
    entry = last_read(portal)
    assert (entry.outcome, entry.record_id) == ("unavailable", "v1")


@pytest.mark.store("s3")
def test_a_missing_bucket_is_the_store_down_not_damage(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = portal.wired.store
    assert isinstance(store, S3Store)
    monkeypatch.setattr(store, "location", dataclasses.replace(store.location, bucket="cv-no-such-bucket"))
    response = portal.client.get(content(portal, "d1"), headers=portal.as_role("archivist"))
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert last_read(portal).outcome == "unavailable"


def test_the_ledger_page_filters_by_the_new_outcomes(portal: Portal) -> None:
    remove_under_the_app(portal, stored_file(portal, "d1"))
    portal.client.get(content(portal, "d1"), headers=portal.as_role("archivist"))
    found = portal.client.get(
        "/api/v1/ledger", params={"outcome": "damaged"}, headers=portal.as_role("security_auditor")
    )
    assert [e["record_id"] for e in found.json()["entries"]] == ["d1"]
    assert {"damaged", "unavailable"} <= set(ledger_pages.OUTCOMES)


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def browser(portal: Portal) -> Iterator[Portal]:
    """The portal's client asking for pages the way a browser does."""
    portal.client.headers.update(BROWSER)
    yield portal
    for name in BROWSER:
        portal.client.headers.pop(name, None)


def test_a_page_gets_an_html_503_when_the_store_is_down(
    browser: Portal, store_down: Callable[[], None]
) -> None:
    at(browser, MONDAY)
    request_id = file_request(browser)
    as_role(browser, "disclosure_officer")
    take(browser, request_id)
    store_down()
    answer = reply(browser, request_id, {"decision": "released", "reasons": "可以公开", "record_ids": ["d2"]})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
    assert answer.headers["content-type"].startswith("text/html")
    assert "服务暂时不可用" in answer.text and "请稍后再试" in answer.text
    assert "Traceback" not in answer.text and '"detail"' not in answer.text
    english = browser.client.get(f"/disclosures/{request_id}?lang=en")  # reading needs no store
    assert english.status_code == 200
    again = reply(browser, request_id, {"decision": "released", "reasons": "可以公开", "record_ids": ["d2"]})
    assert again.status_code == 503 and "Temporarily unavailable" in again.text


def test_a_page_gets_an_html_409_when_a_released_record_is_damaged(browser: Portal) -> None:
    at(browser, MONDAY)
    request_id = file_request(browser)
    as_role(browser, "disclosure_officer")
    take(browser, request_id)
    item = stored_file(browser, "d2")
    remove_under_the_app(browser, item)
    answer = reply(browser, request_id, {"decision": "released", "reasons": "可以公开", "record_ids": ["d2"]})
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("text/html")
    assert "案卷已损坏" in answer.text and "casevault verify" in answer.text
    assert item.key not in answer.text


@pytest.mark.store("file")
def test_an_unexpected_failure_is_an_html_500_for_pages_and_json_for_the_api(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug with /var/lib/casevault/secret in its message")

    monkeypatch.setattr(catalogue, "search_cases", broken)
    client = TestClient(portal.client.app, base_url="https://testserver", raise_server_exceptions=False)
    headers = portal.as_role("archivist")
    api = client.get("/api/v1/cases", headers=headers | BROWSER)
    assert api.status_code == 500 and api.json() == {"detail": "internal error; it has been logged"}
    as_role(portal, "archivist")
    client.cookies = portal.client.cookies
    page = client.get("/", headers=BROWSER)
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "系统出错" in page.text and "secret" not in page.text and "Traceback" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"


class _Failing(BaseHTTPRequestHandler):
    """An S3 endpoint that answers every request with the status in the server's `status`."""

    def _fail(self) -> None:
        status = self.server.status  # type: ignore[attr-defined]
        body = b"" if status != 500 else b"<Error><Code>InternalError</Code><Message>x</Message></Error>"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/xml")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = _fail

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def failing_s3() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.store("s3")
@pytest.mark.parametrize("status", [500, 503])
def test_an_s3_server_error_is_the_store_down(
    portal: Portal, monkeypatch: pytest.MonkeyPatch, failing_s3: ThreadingHTTPServer, status: int
) -> None:
    failing_s3.status = status  # type: ignore[attr-defined]
    store = portal.wired.store
    assert isinstance(store, S3Store)
    headers = portal.as_role("archivist")
    redirect(monkeypatch, store, f"127.0.0.1:{failing_s3.server_port}")
    response = portal.client.get(content(portal, "d1"), headers=headers)
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert last_read(portal).outcome == "unavailable"


@pytest.mark.store("file")
def test_an_unknown_address_is_a_page_for_browsers_and_json_for_the_api(portal: Portal) -> None:
    page = portal.client.get("/no/such/page", headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "未找到" in page.text
    public = portal.client.get("/public/no/such/page", headers=BROWSER)
    assert public.status_code == 404 and "未找到" in public.text and "public.css" in public.text
    api = portal.client.get("/api/v1/no/such", headers=BROWSER)
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
