"""The JSON API: who may do what (one table), content streaming with Range, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from access.ledger import LedgerEntry
from access.models import RetrievalGrant, User
from tests.support.portal import PASSWORD, Portal

pytestmark = [
    pytest.mark.store("file"),
]

ROLES = [
    "archivist",
    "archive_manager",
    "supervisor",
    "disclosure_officer",
    "security_auditor",
    "security_admin",
    "sysadmin",
    "anonymous",
]
B = "{bundle}"
# route → expected status for each role in ROLES order (the supervisor holds no grant here).
MATRIX: dict[str, list[int]] = {
    "/api/v1/cases": [200, 200, 200, 200, 403, 403, 403, 401],
    f"/api/v1/bundles/{B}": [200, 200, 403, 200, 403, 403, 403, 401],
    f"/api/v1/bundles/{B}/records/d2/content": [200, 200, 403, 200, 403, 403, 403, 401],
    f"/api/v1/bundles/{B}/records/d2/content?download=1": [200, 200, 403, 403, 403, 403, 403, 401],
    "/api/v1/ledger": [403, 403, 403, 403, 200, 403, 403, 401],
    "/api/v1/ledger/verify": [403, 403, 403, 403, 200, 403, 403, 401],
}


def test_authorization_matrix(portal: Portal) -> None:
    """Every route × every role, from the one table above; all mismatches reported at once."""
    wrong = []
    for route, statuses in MATRIX.items():
        for role, expected in zip(ROLES, statuses, strict=True):
            headers = {} if role == "anonymous" else portal.as_role(role)
            response = portal.client.get(route.replace(B, portal.bundle_id), headers=headers)
            named_rule = expected != 403 or bool(response.json()["detail"]["rule"])
            if response.status_code != expected or not named_rule:
                wrong.append(f"{route} as {role}: {response.status_code}, expected {expected}")
    assert wrong == []


def test_every_decision_is_ledgered(portal: Portal) -> None:
    url = f"/api/v1/bundles/{portal.bundle_id}/records/d2/content"
    portal.client.get(url, headers=portal.as_role("archivist"))
    portal.client.get(url, headers=portal.as_role("sysadmin"))
    with portal.wired.sessions() as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "record.view")).all()
    assert [(r.actor, r.outcome, r.detail["rule"]) for r in rows] == [
        ("archivist", "allowed", "role"),
        ("sysadmin", "denied", "three-role-separation"),
    ]
    assert rows[0].record_id == "d2" and rows[0].bundle_id == portal.bundle_id


def test_applicant_token_opens_nothing_internal(portal: Portal) -> None:
    response = portal.client.post("/api/v1/token", data={"username": "applicant", "password": PASSWORD})
    assert response.status_code == 401


def _grant(
    portal: Portal,
    *,
    records: list[str],
    actions: list[str],
    expires: datetime,
    revoked: datetime | None = None,
) -> None:
    with portal.wired.sessions() as session:
        supervisor = session.scalar(select(User).where(User.username == "supervisor"))
        manager = session.scalar(select(User).where(User.username == "archive-manager"))
        assert supervisor and manager
        session.add(
            RetrievalGrant(
                grantee_id=supervisor.id,
                bundle_id=portal.bundle_id,
                record_ids=records,
                actions=actions,
                starts_at=datetime.now(UTC) - timedelta(hours=1),
                expires_at=expires,
                approved_by_id=manager.id,
                revoked_at=revoked,
            )
        )
        session.commit()


def test_supervisor_sees_only_what_the_grant_names(portal: Portal) -> None:
    _grant(portal, records=["v1"], actions=["view"], expires=datetime.now(UTC) + timedelta(days=1))
    headers = portal.as_role("supervisor")
    base = f"/api/v1/bundles/{portal.bundle_id}"
    assert portal.client.get(f"{base}/records/v1/content", headers=headers).status_code == 202  # watermarking
    assert portal.client.get(f"{base}/records/d2/content", headers=headers).status_code == 403
    assert portal.client.get(f"{base}/records/v1/content?download=1", headers=headers).status_code == 403
    detail = portal.client.get(base, headers=headers).json()
    assert [r["record_id"] for r in detail["records"]] == ["v1"]
    assert detail["withheld_records"] == 8
    cases = portal.client.get("/api/v1/cases", headers=headers).json()["cases"]
    assert [c["bundle_id"] for c in cases] == [portal.bundle_id]


@pytest.mark.parametrize("state", ["expired", "revoked"])
def test_expired_or_revoked_grant_opens_nothing(portal: Portal, state: str) -> None:
    now = datetime.now(UTC)
    _grant(
        portal,
        records=["v1"],
        actions=["view"],
        expires=now - timedelta(minutes=1) if state == "expired" else now + timedelta(days=1),
        revoked=now if state == "revoked" else None,
    )
    response = portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}/records/v1/content", headers=portal.as_role("supervisor")
    )
    assert response.status_code == 403
    assert response.json()["detail"]["rule"] == "grant"


def test_grant_expiry_is_checked_on_every_request(portal: Portal) -> None:
    now = datetime.now(UTC)
    _grant(portal, records=["v1"], actions=["view"], expires=now + timedelta(minutes=5))
    url = f"/api/v1/bundles/{portal.bundle_id}/records/v1/content"
    assert portal.client.get(url, headers=portal.as_role("supervisor")).status_code == 202  # allowed
    portal.wired.clock = lambda: now + timedelta(minutes=6)
    portal.tokens["supervisor"] = portal.token("supervisor")
    assert portal.client.get(url, headers=portal.as_role("supervisor")).status_code == 403


RANGES = [
    ("bytes=0-99", 206, lambda size: (0, 99)),
    ("bytes=100-", 206, lambda size: (100, size - 1)),
    ("bytes=-50", 206, lambda size: (size - 50, size - 1)),
    ("bytes=10-999999999", 206, lambda size: (10, size - 1)),
]


@pytest.mark.parametrize(("header", "status", "span"), RANGES, ids=[r[0] for r in RANGES])
def test_footage_streams_with_range(portal: Portal, header: str, status: int, span) -> None:
    url = f"/api/v1/bundles/{portal.bundle_id}/records/v1/content"
    whole = portal.client.get(url, headers=portal.as_role("archivist"))
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    response = portal.client.get(url, headers={**portal.as_role("archivist"), "Range": header})
    first, last = span(size)
    assert response.status_code == status
    assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert response.content == whole.content[first : last + 1]
    assert response.headers["etag"] == whole.headers["etag"]


def test_range_past_the_end_is_416(portal: Portal) -> None:
    url = f"/api/v1/bundles/{portal.bundle_id}/records/v1/content"
    response = portal.client.get(url, headers={**portal.as_role("archivist"), "Range": "bytes=999999999-"})
    assert response.status_code == 416
    assert response.headers["content-range"].startswith("bytes */")


def test_pdf_is_served_inline_with_its_type(portal: Portal) -> None:
    response = portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}/records/d2/content", headers=portal.as_role("archivist")
    )
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline;")
    assert response.content.startswith(b"%PDF-")


@pytest.mark.parametrize("bundle_id", ["../../etc/passwd", "0" * 32, "%2e%2e", "x" * 300])
def test_unknown_or_malformed_ids_are_404(portal: Portal, bundle_id: str) -> None:
    response = portal.client.get(f"/api/v1/bundles/{bundle_id}", headers=portal.as_role("archivist"))
    assert response.status_code == 404


def test_ledger_search_filters_and_pages(portal: Portal) -> None:
    for _ in range(3):
        portal.client.get(f"/api/v1/bundles/{portal.bundle_id}", headers=portal.as_role("archivist"))
    headers = portal.as_role("security_auditor")
    page = portal.client.get(
        "/api/v1/ledger", params={"actor": "archivist", "action": "bundle.read", "limit": 2}, headers=headers
    ).json()
    assert len(page["entries"]) == 2 and page["next_before"]
    rest = portal.client.get(
        "/api/v1/ledger",
        params={"actor": "archivist", "action": "bundle.read", "limit": 2, "before": page["next_before"]},
        headers=headers,
    ).json()
    assert len(rest["entries"]) == 1 and rest["next_before"] is None
    verify = portal.client.get("/api/v1/ledger/verify", headers=headers).json()
    assert verify["intact"] is True and verify["first_bad_seq"] is None


def test_ledger_times_need_an_offset(portal: Portal) -> None:
    headers = portal.as_role("security_auditor")
    naive = portal.client.get("/api/v1/ledger", params={"since": "2026-03-01T00:00:00"}, headers=headers)
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["field"] == "since"
    aware = portal.client.get(
        "/api/v1/ledger", params={"since": "2026-03-01T00:00:00+08:00"}, headers=headers
    )
    assert aware.status_code == 200


def test_store_outage_is_503_with_retry_after(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    from archive.errors import StoreUnavailable

    def down(*_args, **_kwargs):
        raise StoreUnavailable("object store unreachable while reading")
        yield b""  # a generator, like the stores' read

    monkeypatch.setattr(portal.wired.store, "read", down)
    response = portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}/records/v1/content", headers=portal.as_role("archivist")
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "retry" in response.json()["detail"]


def test_database_outage_is_503(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    def down(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    headers = portal.as_role("archivist")
    monkeypatch.setattr(portal.wired.sessions.kw["bind"], "connect", down)
    response = portal.client.get("/api/v1/cases", headers=headers)
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert "Traceback" not in response.text


def test_supervisors_never_download_the_original(portal: Portal) -> None:
    _grant(
        portal, records=["v1"], actions=["view", "download"], expires=datetime.now(UTC) + timedelta(days=1)
    )
    response = portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}/records/v1/content?download=1",
        headers=portal.as_role("supervisor"),
    )
    assert response.status_code == 403
    assert response.json()["detail"]["rule"] == "watermarked-copy"
