"""Registered retrieval through the API: filing, deciding, reading what a grant opens."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from access.ledger import LedgerEntry
from portal.cli.demo import case_document
from tests.support.portal import Portal

CASE_NO = case_document()["case_no"]


PURPOSE = "复核当事人投诉涉及的现场检查过程"


BASIS = "《行政执法全过程记录规定》第十八条；信访事项办理"


def file_request(portal: Portal, role: str = "supervisor", **overrides: Any) -> Any:
    """POST a retrieval request as that role (bearer token)."""
    body = {
        "case_no": CASE_NO,
        "record_ids": ["v1", "d1"],
        "purpose": PURPOSE,
        "legal_basis": BASIS,
        "actions": ["view"],
        "days": 7,
    } | overrides
    return portal.client.post("/api/v1/retrievals", json=body, headers=portal.as_role(role))


def decide(
    portal: Portal, request_id: int, *, approve: bool = True, reason: str = "", role: str = "archive_manager"
) -> Any:
    """POST a decision on a request."""
    return portal.client.post(
        f"/api/v1/retrievals/{request_id}/decision",
        json={"approve": approve, "reason": reason},
        headers=portal.as_role(role),
    )


def approved(portal: Portal, **overrides: Any) -> int:
    """A request filed by the supervisor and approved by the manager; its id."""
    filed = file_request(portal, **overrides)
    assert filed.status_code == 201, filed.text
    answer = decide(portal, filed.json()["id"], reason="同意，限本次复核使用")
    assert answer.status_code == 200, answer.text
    return int(filed.json()["id"])


def content(
    portal: Portal,
    record_id: str,
    role: str = "supervisor",
    headers: dict[str, str] | None = None,
    **params: Any,
) -> Any:
    """GET a record's content as that role."""
    return portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}/records/{record_id}/content",
        params=params,
        headers=portal.as_role(role) | (headers or {}),
    )


def rendition_ready(portal: Portal, preparing: Any, role: str = "supervisor") -> dict[str, Any]:
    """Wait on the status URL of a 202 (footage being watermarked for viewing) until it is ready."""
    assert preparing.status_code == 202, preparing.text
    url = preparing.json()["status_url"]
    assert preparing.headers["location"] == url
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status: dict[str, Any] = portal.client.get(url, headers=portal.as_role(role)).json()
        if status["status"] not in ("queued", "preparing"):
            assert status["status"] == "ready", status
            return status
        time.sleep(0.05)
    raise AssertionError("the rendition was not ready within 120 s")


def entries(portal: Portal, *actions: str) -> list[LedgerEntry]:
    """Ledger entries of those actions, in order."""
    with portal.wired.sessions() as session:
        return list(
            session.scalars(
                select(LedgerEntry).where(LedgerEntry.action.in_(actions)).order_by(LedgerEntry.seq)
            )
        )
