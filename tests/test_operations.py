"""Operations: `/healthz` touches nothing, `/readyz` names what is down (and nothing secret),
`/metrics` answers the operations network only and labels routes by template, every log line of a
request carries its id and no secret, and SIGTERM lets an upload under way finish."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from access import identities
from access.ledger import LedgerEntry
from archive import jobs
from archive.errors import StoreUnavailable
from bench.load import casevault, environment
from portal.app import create_app, create_public_only
from portal.settings import Settings
from portal.web.logs import JsonFormatter, TextFormatter
from portal.wiring import Wired, wire, wire_public
from tests.support.portal import PASSWORD, Portal
from tests.support.services import free_port
from tests.support.web import signed_in

PROBES = ("/healthz", "/readyz")
HTTPS = "https://testserver"
LOOPBACK = ("127.0.0.1", 50000)


def _entries(wired: Wired) -> int:
    with wired.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


def _gone_database(url: str, tmp_path: Path) -> str:
    """A database URL of the same kind at which there is none: no SQLite file, no PostgreSQL server."""
    if url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'missing' / 'casevault.db'}"
    return f"postgresql://postgres:db-secret@127.0.0.1:{free_port()}/casevault"


def _assert_unready(answer: httpx.Response, *failed: str) -> dict[str, Any]:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) > 0
    body = answer.json()
    assert body["status"] == "unavailable" and body["failed"] == list(failed), body
    assert all(not body["checks"][name]["ok"] for name in failed)
    assert "://" not in answer.text and "Traceback" not in answer.text and "secret" not in answer.text
    return dict(body)


# --- /healthz and /readyz -----------------------------------------------------------------------


def test_ready_archive_answers_each_check_and_probes_leave_no_trace(wired: Wired) -> None:
    before = _entries(wired)
    with TestClient(create_app(wired), base_url=HTTPS) as http:
        for _ in range(10):
            for probe in PROBES:
                answer = http.get(probe)
                assert answer.status_code == 200, answer.text
                assert "set-cookie" not in answer.headers
        ready = http.get("/readyz").json()
        assert http.get("/healthz").json() == {"status": "ok"}
    assert ready["status"] == "ready" and ready["failed"] == []
    assert sorted(ready["checks"]) == ["database", "keys", "release", "store"]
    assert all(check["ok"] for check in ready["checks"].values())
    assert ready["checks"]["database"]["kind"] == wired.engine.dialect.name
    assert str(wired.settings.data_dir) not in json.dumps(ready)  # no path, no URL
    assert _entries(wired) == before  # health checks never flood the ledger


@pytest.mark.store("file")
def test_stopped_or_missing_database_is_unready_while_the_process_is_live(
    settings: Settings, tmp_path: Path
) -> None:
    gone = settings.model_copy(
        update={"database_url": _gone_database(settings.resolved_database_url, tmp_path)}
    )
    wired = wire(gone)
    try:
        with TestClient(create_app(wired), base_url=HTTPS) as http:
            assert http.get("/healthz").status_code == 200  # the process is up; nothing was touched
            body = _assert_unready(http.get("/readyz"), "database")
            assert body["checks"]["database"]["reason"] == "unreachable"
            assert body["checks"]["store"]["ok"] and body["checks"]["keys"]["ok"]
    finally:
        wired.engine.dispose()
    assert not (tmp_path / "missing").exists()  # a probe creates no database


@pytest.mark.store("file")
def test_database_behind_this_codes_schema_is_unready_and_ready_again(wired: Wired) -> None:
    with TestClient(create_app(wired), base_url=HTTPS) as http:
        assert http.get("/readyz").status_code == 200  # the pool holds a checked connection now
        with wired.engine.begin() as connection:
            (head,) = connection.execute(text("SELECT version_num FROM alembic_version")).one()
            connection.execute(text("UPDATE alembic_version SET version_num = '0013'"))
        try:
            body = _assert_unready(http.get("/readyz"), "database")
            assert body["checks"]["database"]["reason"] == f"schema revision 0013; this code needs {head}"
        finally:
            with wired.engine.begin() as connection:
                connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        assert http.get("/readyz").status_code == 200


@pytest.mark.store("file")
def test_removed_file_store_and_unreadable_keys_are_named(wired: Wired) -> None:
    with TestClient(create_app(wired), base_url=HTTPS) as http:
        assert http.get("/readyz").status_code == 200
        shutil.rmtree(wired.settings.store_url.removeprefix("file://"))
        _assert_unready(http.get("/readyz"), "store")
        (wired.settings.data_dir / "keys" / "ledger-note-key").unlink()
        body = _assert_unready(http.get("/readyz"), "store", "keys")
        assert body["checks"]["keys"]["reason"] == "unreadable"
        assert body["checks"]["database"]["ok"] and body["checks"]["release"]["ok"]


@pytest.mark.store("s3")
@pytest.mark.only_on("postgresql", why="S3 pairs with PostgreSQL in the suite (the production pairing)")
def test_stopped_s3_server_is_unready(settings: Settings, tmp_path: Path) -> None:
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    port = free_port()
    environment_ = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    moto = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment_,
    )
    try:
        _wait_for_port(port, moto)
        own = settings.model_copy(
            update={"store": f"s3://minio-user:s3-secret@127.0.0.1:{port}/cv-stopped?secure=false"}
        )
        wired = wire(own)
        with TestClient(create_app(wired), base_url=HTTPS) as http:
            assert http.get("/readyz").status_code == 200
            moto.terminate()
            moto.wait(timeout=10)
            body = _assert_unready(http.get("/readyz"), "store")
            assert body["checks"]["store"] == {"ok": False, "kind": "S3Store", "reason": "unreachable"}
        wired.engine.dispose()
    finally:
        moto.kill()
        moto.wait(timeout=10)


@pytest.mark.store("file")
def test_public_host_checks_only_what_it_holds(settings: Settings) -> None:
    wire(settings).engine.dispose()  # the internal side leaves the public halves of its keys
    public = wire_public(settings)
    try:
        with TestClient(create_public_only(public), base_url=HTTPS) as http:
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert sorted(ready.json()["checks"]) == ["database", "keys", "release"]
            assert http.get("/healthz").json() == {"status": "ok"}
            assert http.get("/metrics").status_code == 404  # "testclient" is no loopback address
    finally:
        public.engine.dispose()


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60  # a shared machine under load starts a process slowly
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} (the process: {process.poll()})")


# --- /metrics -----------------------------------------------------------------------------------


def _client(portal: Portal, address: str = "127.0.0.1") -> TestClient:
    return TestClient(portal.client.app, base_url=HTTPS, client=(address, 50000))


def _configure(portal: Portal, **changes: Any) -> None:
    portal.wired.settings = portal.wired.settings.model_copy(update=changes)


def test_metrics_label_routes_by_template_and_report_the_archive(portal: Portal) -> None:
    bundle = f"/api/v1/bundles/{portal.bundle_id}"
    archivist = portal.as_role("archivist")
    assert portal.client.get(bundle, headers=archivist).status_code == 200
    assert portal.client.get("/api/v1/bundles/not-a-bundle", headers=archivist).status_code == 404
    assert portal.client.get("/public/api/v1/recorded-activities").status_code == 200
    assert portal.client.get(f"/no/such/{portal.bundle_id}").status_code == 404
    assert portal.client.get("/static/favicon.svg").status_code == 200
    with portal.wired.sessions() as session:  # a kind no worker takes: it waits
        jobs.enqueue(session, kind="test.waiting", now=portal.wired.clock())
        session.commit()
    with _client(portal) as loopback:
        answer = loopback.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    exposition = answer.text
    assert portal.bundle_id not in exposition and "not-a-bundle" not in exposition  # no ids as labels
    for line in (
        'casevault_http_requests_total{method="GET",route="/api/v1/bundles/{bundle_id}",status="200"} 1.0',
        'casevault_http_requests_total{method="GET",route="/api/v1/bundles/{bundle_id}",status="404"} 1.0',
        'casevault_http_requests_total{method="GET",route="/public/api/v1/recorded-activities",'
        'status="200"} 1.0',
        'casevault_http_requests_total{method="GET",route="(unmatched)",status="404"} 1.0',
        'casevault_http_requests_total{method="GET",route="/static/{path}",status="200"} 1.0',
        'casevault_http_request_duration_seconds_count{method="GET",route="/api/v1/bundles/{bundle_id}"} 2.0',
        'casevault_deposits_total{outcome="ok"} 1.0',
        "casevault_archive_figures_up 1.0",
        'casevault_queue_depth{kind="test.waiting",state="queued"} 1.0',
        'casevault_queue_depth{kind="test.waiting",state="running"} 0.0',
        "casevault_fixity_alerts_open 0.0",
    ):
        assert line in exposition, line
    figures = dict(
        line.rsplit(" ", 1) for line in exposition.splitlines() if line and not line.startswith("#")
    )
    with portal.wired.sessions() as session:
        entries = int(session.scalar(select(func.max(LedgerEntry.seq))) or 0)
    assert float(figures["casevault_ledger_entries"]) == entries
    assert float(figures["casevault_sealed_bytes_total"]) > 0
    # a second scrape counts only what was appended since: the deposit is still counted once
    with _client(portal) as loopback:
        assert 'casevault_deposits_total{outcome="ok"} 1.0' in loopback.get("/metrics").text


def test_metrics_answer_the_operations_network_or_the_token_and_no_one_else(portal: Portal) -> None:
    def status(address: str, headers: dict[str, str] | None = None) -> int:
        with _client(portal, address) as http:
            return int(http.get("/metrics", headers=headers or {}).status_code)

    assert status("127.0.0.1") == 200 and status("::1") == 200
    assert status("10.1.2.3") == 404 and status("testclient") == 404  # deny by default
    _configure(portal, metrics_token="scrape-token-0123456789")
    assert status("10.1.2.3", {"Authorization": "Bearer scrape-token-0123456789"}) == 200
    assert status("10.1.2.3", {"Authorization": "Bearer scrape-token-012345678"}) == 404
    assert status("10.1.2.3", {"Authorization": "scrape-token-0123456789"}) == 404
    _configure(portal, metrics_networks="10.0.0.0/8", metrics_token=None)
    assert status("10.1.2.3") == 200 and status("127.0.0.1") == 404
    _configure(portal, metrics_networks="")
    assert status("127.0.0.1") == 404  # no network configured: only the token opens it


@pytest.mark.store("file")
def test_metrics_settings_refuse_what_is_no_network_and_a_short_token(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (
        ("CASEVAULT_METRICS_NETWORKS", "127.0.0.1/33"),
        ("CASEVAULT_TRUSTED_PROXIES", "proxy.internal"),
        ("CASEVAULT_METRICS_TOKEN", "short-token"),
    ):
        with monkeypatch.context() as patched:
            patched.setenv(name, value)
            result = cli("ledger", "verify")
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"casevault: {name}: "), result.stderr
    assert "short-token" not in result.stderr  # a secret is named, never shown
    assert cli("ledger", "verify").exit_code == 0


def test_forwarded_for_is_believed_from_configured_proxies_only(portal: Portal) -> None:
    def status(address: str, forwarded: str | None) -> int:
        with _client(portal, address) as http:
            headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
            return int(http.get("/metrics", headers=headers).status_code)

    assert status("203.0.113.9", "127.0.0.1") == 404  # no proxy configured: a forged header is ignored
    _configure(portal, trusted_proxies="127.0.0.1/32", metrics_networks="10.0.0.0/8")
    assert status("127.0.0.1", "10.9.8.7") == 200  # through the proxy, from the operations network
    assert status("127.0.0.1", "203.0.113.9") == 404  # through the proxy, from outside
    assert status("127.0.0.1", "10.9.8.7, 203.0.113.9") == 404  # the proxy saw 203.0.113.9 connect
    assert status("127.0.0.1", None) == 404  # a proxy that does not say for whom: refused
    assert status("127.0.0.1", "not-an-address") == 404
    assert status("198.51.100.7", "10.9.8.7") == 404  # not our proxy: its header counts for nothing


def test_operations_routes_are_in_no_navigation_and_no_openapi(portal: Portal) -> None:
    page = signed_in(portal, "sysadmin").client.get("/admin/settings").text
    paths = {p for p in portal.client.get("/openapi.json").json()["paths"]}
    for route in ("/healthz", "/readyz", "/metrics"):
        assert f'href="{route}' not in page
        assert route not in paths


# --- logs ---------------------------------------------------------------------------------------


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log record, as the JSON lines `serve` writes."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.store("file")
def test_log_lines_carry_the_request_id_and_never_a_secret(wired: Wired, log_lines: io.StringIO) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhcmNoaXZpc3QifQ.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
    store = "s3://AKIAOPERATOR:store-secret-4f2a9c@minio.internal:9000/archive?secure=false"
    app = create_app(wired)

    def leaky(authorization: str = "") -> None:
        logging.getLogger("portal.test").error("request came with Authorization: %s", authorization)
        try:
            raise RuntimeError(f"could not reach {store} with token={token}")
        except RuntimeError:
            logging.getLogger("portal.test").exception("password=hunter2-secret, cookie follows")
        raise StoreUnavailable(f"{store}: cannot read bundles/x")  # the app's own handler logs it

    def crash() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/leaky", leaky)
    app.add_api_route("/api/v1/crash", crash)
    headers = {
        "Authorization": f"Bearer {token}",
        "Cookie": "casevault_session=session-cookie-secret-value",
        "X-Request-ID": "ops-req-42",
    }
    with TestClient(app, base_url=HTTPS, raise_server_exceptions=False) as http:
        crashed = http.get("/api/v1/crash", headers={"X-Request-ID": "ops-crash-1"})
        assert crashed.status_code == 500 and crashed.headers["X-Request-ID"] == "ops-crash-1"
        answer = http.get("/api/v1/leaky", headers=headers, params={"authorization": f"Bearer {token}"})
        assert answer.status_code == 503
        assert answer.headers["X-Request-ID"] == "ops-req-42"
        generated = http.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"}).headers[
            "X-Request-ID"
        ]
        long_one = http.get("/healthz", headers={"X-Request-ID": "a" * 129}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated) and re.fullmatch(r"[0-9a-f]{32}", long_one)
    written = log_lines.getvalue()
    for secret in (
        token,
        "store-secret-4f2a9c",
        "hunter2-secret",
        "session-cookie-secret-value",
        "c2lnbmF0dXJl",
    ):
        assert secret not in written, secret
    lines = [json.loads(line) for line in written.splitlines()]
    mine = [line for line in lines if line["request_id"] == "ops-req-42"]
    assert {"portal.test", "portal.web.errors", "casevault.access"} <= {line["logger"] for line in mine}
    for line in mine:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line)
    access = next(line for line in mine if line["logger"] == "casevault.access")
    assert access["route"] == "/api/v1/leaky" and access["status"] == 503 and "?" not in access["path"]
    assert "s3://AKIAOPERATOR:[redacted]@minio.internal:9000" in written  # the URL stays useful


def test_plain_text_lines_are_redacted_too() -> None:
    record = logging.LogRecord(
        "portal.x", logging.WARNING, __file__, 1, "store %s down", ("s3://a:b-secret@h/x",), None
    )
    line = TextFormatter().format(record)
    assert "b-secret" not in line and "s3://a:[redacted]@h/x" in line and "WARNING" in line


# --- graceful shutdown --------------------------------------------------------------------------


def _serve(settings: Settings, port: int, log: io.BufferedWriter) -> subprocess.Popen[bytes]:
    command = casevault(
        "serve", "--app", "internal", "--port", str(port), "--timeout-graceful-shutdown", "20"
    )
    env = environment(settings) | {"CASEVAULT_LOG_FORMAT": "json"}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)


@pytest.mark.store("file")
def test_sigterm_lets_an_upload_under_way_finish_then_exits_zero(settings: Settings, tmp_path: Path) -> None:
    wired = wire(settings)
    with wired.sessions() as session:
        identities.create_user(
            session,
            username="archivist",
            role="archivist",
            actor="test",
            now=wired.clock(),
            password=PASSWORD,
        )
        session.commit()
    wired.engine.dispose()
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("wb") as written:
        server = _serve(settings, port, written)
    try:
        _wait_for_port(port, server)
        base = f"http://127.0.0.1:{port}"
        form = {"username": "archivist", "password": PASSWORD}
        token = httpx.post(f"{base}/api/v1/token", data=form, timeout=30).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
        chunks, size = 8, 64 << 10
        created = httpx.post(
            f"{base}/api/v1/uploads", headers=auth | {"Upload-Length": str(chunks * size)}, timeout=30
        )
        assert created.status_code == 201, created.text
        sending = threading.Event()

        def slowly() -> Iterator[bytes]:
            for n in range(chunks):
                yield bytes([n]) * size
                sending.set()
                time.sleep(0.25)

        def stop() -> None:
            sending.wait(30)
            server.send_signal(signal.SIGTERM)

        stopper = threading.Thread(target=stop)
        stopper.start()
        headers = auth | {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        answer = httpx.patch(
            f"{base}{created.headers['Location']}", headers=headers, content=slowly(), timeout=60
        )
        stopper.join()
        assert answer.status_code == 204, answer.text  # finished after SIGTERM, not cut off
        assert answer.headers["Upload-Offset"] == str(chunks * size)
        assert server.wait(timeout=60) == 0  # a loaded machine takes seconds to tear down the interpreter
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is JSON
    patch = next(line for line in lines if line.get("method") == "PATCH")
    assert patch["route"] == "/api/v1/uploads/{upload_id}" and patch["status"] == 204 and patch["request_id"]
    assert token not in log.read_text()
    messages = [line["message"] for line in lines]
    assert "serve loop stopped" in messages and any("Shutting down" in m for m in messages)
