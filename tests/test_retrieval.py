"""Registered retrieval (调取登记) through the API: file → decide → grant → use → revoke, the register."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from access.models import RetrievalGrant, RetrievalRequest
from access.retrieval import CHINA
from portal.cli.demo import case_document
from portal.internal.archive import operations
from tests.support.portal import PASSWORD, Portal
from tests.support.retrieval import (
    BASIS,
    CASE_NO,
    PURPOSE,
    approved,
    content,
    decide,
    entries,
    file_request,
    rendition_ready,
)
from tests.support.web import session_csrf, signed_in

pytestmark = [pytest.mark.store("file")]


def at(portal: Portal, when: datetime) -> None:
    """Move the app's clock, and take fresh tokens valid at that time."""
    portal.wired.clock = lambda: when
    portal.tokens.clear()


# --- the whole flow --------------------------------------------------------------------------


def _whole_flow(portal: Portal) -> None:
    assert content(portal, "v1").status_code == 403  # nothing before a grant
    filed = file_request(portal)
    assert filed.status_code == 201, filed.text
    assert filed.json()["status"] == "pending" and filed.json()["record_ids"] == ["d1", "v1"]
    request_id = filed.json()["id"]
    assert content(portal, "v1").status_code == 403  # nothing while pending

    before = datetime.now(UTC)
    answer = decide(portal, request_id, reason="同意")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == request_id and body["status"] == "approved"
    expires = datetime.fromisoformat(body["grant_expires_at"])
    assert before + timedelta(days=7) <= expires <= datetime.now(UTC) + timedelta(days=7)

    rendition_ready(portal, content(portal, "v1"))  # footage: a watermarked rendition is made first
    assert content(portal, "v1").status_code == 200
    assert content(portal, "d1").status_code == 200  # stamped for this view
    refused = content(portal, "d2")  # not in scope
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "grant"
    assert content(portal, "v1", download=1).status_code == 403  # view only

    with portal.wired.sessions() as session:
        grant = session.scalar(select(RetrievalGrant).where(RetrievalGrant.request_id == request_id))
        row = session.get(RetrievalRequest, request_id)
        assert grant is not None and row is not None
        assert grant.record_ids == ["d1", "v1"]
        assert grant.actions == ["view"] and row.department == "legal" and row.decided_at is not None
        grant_id = grant.id

    steps = [
        (e.actor, e.action, e.outcome, e.record_id, e.detail.get("grant"))
        for e in entries(portal, "retrieval.request", "retrieval.decide", "record.view")
    ]
    assert steps == [
        ("supervisor", "record.view", "denied", "v1", None),
        ("supervisor", "retrieval.request", "filed", None, None),
        ("supervisor", "record.view", "denied", "v1", None),
        ("archive-manager", "retrieval.decide", "approved", None, grant_id),
        ("supervisor", "record.view", "preparing", "v1", grant_id),
        ("supervisor", "record.view", "allowed", "v1", grant_id),
        ("supervisor", "record.view", "allowed", "d1", grant_id),
        ("supervisor", "record.view", "denied", "d2", None),
    ]


def test_file_approve_view_in_scope_only(portal: Portal) -> None:
    _whole_flow(portal)


def test_file_approve_view_in_scope_only_on_postgresql(portal: Portal) -> None:
    _whole_flow(portal)


def test_records_come_back_in_case_order_and_none_named_means_the_whole_case(portal: Portal) -> None:
    named = file_request(portal, record_ids=["v1", "s1", "v1"])
    assert named.json()["record_ids"] == ["s1", "v1"]
    whole = file_request(portal, record_ids=[])
    assert whole.status_code == 201
    assert whole.json()["record_ids"] == ["s1", "s2", "i1", "i2", "d1", "d2", "e1", "c1", "v1"]


def test_download_is_granted_only_when_asked_and_implies_view(portal: Portal) -> None:
    filed = file_request(portal, actions=["download"])
    assert filed.json()["actions"] == ["view", "download"]
    assert file_request(portal).json()["actions"] == ["view"]


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"days": 0}, 422, "days"),
        ({"days": 91}, 422, "days"),
        ({"days": "a week"}, 422, "days"),
        ({"purpose": "   "}, 422, "purpose"),
        ({"legal_basis": ""}, 422, "legal_basis"),
        ({"actions": ["print"]}, 422, "actions"),
        ({"record_ids": ["v1", "zz9", "yy"]}, 422, "record_ids"),
        ({"case_no": "深民防罚〔1999〕1号"}, 404, "case_no"),
        ({"scope": "all"}, 422, "scope"),
    ],
    ids=["days-0", "days-91", "days-text", "purpose", "legal_basis", "actions", "records", "case", "extra"],
)
def test_bad_requests_name_the_field(
    portal: Portal, overrides: dict[str, Any], status: int, field: str
) -> None:
    response = file_request(portal, **overrides)
    assert response.status_code == status, response.text
    assert field in response.text
    if field == "record_ids":
        assert "zz9" in response.text and "yy" in response.text
    with portal.wired.sessions() as session:
        assert session.scalar(select(RetrievalRequest.id)) is None


@pytest.mark.parametrize("role", ["sysadmin", "security_auditor", "disclosure_officer", "security_admin"])
def test_only_supervisors_and_archive_staff_file_requests(portal: Portal, role: str) -> None:
    response = file_request(portal, role=role)
    assert response.status_code == 403 and response.json()["detail"]["rule"] == "role"
    assert entries(portal, "retrieval.request")[-1].outcome == "denied"


# --- deciding --------------------------------------------------------------------------------


def test_nobody_decides_their_own_request(portal: Portal) -> None:
    filed = file_request(portal, role="archive_manager")
    assert filed.status_code == 201
    answer = decide(portal, filed.json()["id"])
    assert answer.status_code == 403
    assert answer.json()["detail"]["rule"] == "own-request"
    with portal.wired.sessions() as session:
        assert session.get(RetrievalRequest, filed.json()["id"]).status == "pending"  # type: ignore[union-attr]
        assert session.scalar(select(RetrievalGrant.id)) is None
    last = entries(portal, "retrieval.decide")[-1]
    assert (last.actor, last.outcome, last.detail["rule"]) == ("archive-manager", "denied", "own-request")


def test_two_managers_deciding_at_once_make_one_decision(portal: Portal) -> None:
    from access import identities

    with portal.wired.sessions() as session:
        identities.create_user(
            session,
            username="manager-2",
            role="archive_manager",
            actor="test",
            now=datetime.now(UTC),
            password=PASSWORD,
        )
        session.commit()
    request_id = file_request(portal).json()["id"]
    second = portal.client.post("/api/v1/token", data={"username": "manager-2", "password": PASSWORD})
    token = second.json()["access_token"]
    headers = [portal.as_role("archive_manager"), {"Authorization": f"Bearer {token}"}]
    start = threading.Barrier(2)
    answers: list[int] = []

    def decide_as(who: dict[str, str], approve: bool) -> None:
        start.wait()
        body = {"approve": approve, "reason": "并发审批"}
        answer = portal.client.post(f"/api/v1/retrievals/{request_id}/decision", json=body, headers=who)
        answers.append(answer.status_code)

    pairs = zip(headers, (True, False), strict=True)
    threads = [threading.Thread(target=decide_as, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [200, 409]
    assert len(entries(portal, "retrieval.decide")) == 1


def test_a_supervisor_cannot_decide(portal: Portal) -> None:
    filed = file_request(portal)
    answer = decide(portal, filed.json()["id"], role="supervisor")
    assert answer.status_code == 403 and answer.json()["detail"]["rule"] == "role"
    assert decide(portal, filed.json()["id"], role="archivist").status_code == 403


def test_refusal_needs_a_reason_and_grants_nothing(portal: Portal) -> None:
    request_id = file_request(portal).json()["id"]
    unexplained = decide(portal, request_id, approve=False, reason="  ")
    assert unexplained.status_code == 422 and "reason" in unexplained.text
    refused = decide(portal, request_id, approve=False, reason="调取事由与案件无关")
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    assert refused.json()["grant_expires_at"] is None
    assert content(portal, "v1").status_code == 403
    again = decide(portal, request_id)
    assert again.status_code == 409 and "refused" in again.text
    mine = portal.client.get("/api/v1/retrievals/mine", headers=portal.as_role("supervisor")).json()
    assert mine["requests"][0]["reason"] == "调取事由与案件无关"
    last = entries(portal, "retrieval.decide")[-1]
    assert (last.outcome, last.detail["reason"]) == ("refused", "调取事由与案件无关")


def test_unknown_request_is_404(portal: Portal) -> None:
    assert decide(portal, 999).status_code == 404
    assert portal.client.get("/api/v1/retrievals/999", headers=portal.as_role("archivist")).status_code == 404


# --- the grant over time ---------------------------------------------------------------------


def test_grant_expires_on_time_checked_on_every_request(portal: Portal) -> None:
    start = datetime.now(UTC)
    at(portal, start)
    approved(portal, days=1)
    assert content(portal, "d1").status_code == 200
    at(portal, start + timedelta(days=1) - timedelta(minutes=1))
    assert content(portal, "d1").status_code == 200
    at(portal, start + timedelta(days=1, minutes=1))
    expired = content(portal, "d1")
    assert expired.status_code == 403 and expired.json()["detail"]["rule"] == "grant"
    register = portal.client.get("/api/v1/retrievals", headers=portal.as_role("archive_manager")).json()
    assert register["requests"][0]["state"] == "expired"


def test_revocation_takes_effect_at_once(portal: Portal) -> None:
    request_id = approved(portal)
    assert content(portal, "d1").status_code == 200
    url = f"/api/v1/retrievals/{request_id}/revoke"
    by_supervisor = portal.client.post(url, json={"reason": "x"}, headers=portal.as_role("supervisor"))
    assert by_supervisor.status_code == 403
    unexplained = portal.client.post(url, json={"reason": ""}, headers=portal.as_role("archive_manager"))
    assert unexplained.status_code == 422 and "reason" in unexplained.text
    revoked = portal.client.post(
        url, json={"reason": "复核已结束"}, headers=portal.as_role("archive_manager")
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_at"]
    refused = content(portal, "v1")
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "grant"
    again = portal.client.post(url, json={"reason": "again"}, headers=portal.as_role("archive_manager"))
    assert again.status_code == 409
    last = entries(portal, "retrieval.revoke")[-1]
    assert (last.outcome, last.detail["reason"]) == ("revoked", "复核已结束")


def test_clearance_still_applies_inside_a_grant(portal: Portal, make_case: Callable[..., Path]) -> None:
    document = case_document("深民防罚〔2026〕99号")
    secret = next(r for r in document["records"] if r["id"] == "d2")
    secret["classification"] = {"level": "state_secret", "grade": "secret"}
    operations.deposit(portal.wired, folder=make_case(document), actor="test")
    filed = file_request(portal, case_no="深民防罚〔2026〕99号", record_ids=["d2", "v1"])
    assert filed.status_code == 201
    assert decide(portal, filed.json()["id"], reason="同意").status_code == 200
    bundle_id = filed.json()["bundle_id"]
    base = f"/api/v1/bundles/{bundle_id}/records"
    headers = portal.as_role("supervisor")
    assert (
        portal.client.get(f"{base}/v1/content", headers=headers).status_code == 202
    )  # allowed: watermarking
    refused = portal.client.get(f"{base}/d2/content", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["detail"]["rule"] == "clearance"


# --- cookies need the CSRF token -------------------------------------------------------------


def test_cookie_posts_need_the_csrf_token(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    body = {"case_no": CASE_NO, "record_ids": ["v1"], "purpose": PURPOSE, "legal_basis": BASIS, "days": 3}
    missing = portal.client.post("/api/v1/retrievals", json=body)
    assert missing.status_code == 403 and missing.json()["detail"]["rule"] == "csrf"
    wrong = portal.client.post("/api/v1/retrievals", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    filed = portal.client.post(
        "/api/v1/retrievals", json=body, headers={"X-CSRF-Token": session_csrf(portal)}
    )
    assert filed.status_code == 201, filed.text


# --- the register and its export -------------------------------------------------------------


def test_register_filters_and_who_reads_it(portal: Portal) -> None:
    first = approved(portal)
    content(portal, "d1")
    second = file_request(portal, record_ids=["d2"]).json()["id"]
    decide(portal, second, approve=False, reason="不予批准")
    own = file_request(portal, role="archivist").json()["id"]

    def ids(role: str = "archive_manager", **params: Any) -> list[int]:
        response = portal.client.get("/api/v1/retrievals", params=params, headers=portal.as_role(role))
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["requests"]]

    assert ids() == [own, second, first]
    assert ids(status="approved") == [first]
    assert ids(status="refused") == [second]
    assert ids(requester="supervisor") == [second, first]
    assert ids(department="legal") == [second, first]
    assert ids(case_no=CASE_NO) == [own, second, first]
    today = datetime.now(CHINA).date()  # dates are the office's days
    assert ids(**{"from": today.isoformat(), "to": today.isoformat()}) == [own, second, first]
    assert ids(**{"from": (today + timedelta(days=2)).isoformat()}) == []
    assert ids(**{"to": (today - timedelta(days=2)).isoformat()}) == []
    assert ids("archivist") == ids("security_auditor") == [own, second, first]
    for role in ("supervisor", "sysadmin", "disclosure_officer"):
        refused = portal.client.get("/api/v1/retrievals", headers=portal.as_role(role))
        assert refused.status_code == 403, role
    bad = portal.client.get(
        "/api/v1/retrievals", params={"status": "maybe"}, headers=portal.as_role("archivist")
    )
    assert bad.status_code == 422 and "status" in bad.text
    naive = portal.client.get(
        "/api/v1/retrievals", params={"from": "2026-01-01T10:00"}, headers=portal.as_role("archivist")
    )
    assert naive.status_code == 422 and "from" in naive.text
    row = next(
        r
        for r in portal.client.get("/api/v1/retrievals", headers=portal.as_role("archivist")).json()[
            "requests"
        ]
        if r["id"] == first
    )
    assert row["access_count"] == 1 and row["accesses"][0]["record_id"] == "d1"
    assert row["legal_basis"] == BASIS and row["decider"] == "archive-manager" and row["state"] == "active"
    reads = entries(portal, "register.read")
    assert {e.actor for e in reads if e.outcome == "ok"} == {
        "archive-manager",
        "archivist",
        "security-auditor",
    }


def test_a_requester_sees_their_own_request_only(portal: Portal) -> None:
    mine = file_request(portal).json()["id"]
    theirs = file_request(portal, role="archivist").json()["id"]
    headers = portal.as_role("supervisor")
    assert portal.client.get(f"/api/v1/retrievals/{mine}", headers=headers).status_code == 200
    assert portal.client.get(f"/api/v1/retrievals/{theirs}", headers=headers).status_code == 403
    listed = portal.client.get("/api/v1/retrievals/mine", headers=headers).json()
    assert [r["id"] for r in listed["requests"]] == [mine]


def test_register_csv_has_the_request_and_its_accesses(portal: Portal) -> None:
    request_id = approved(portal, purpose='=HYPERLINK("http://x") 复核')
    rendition_ready(portal, content(portal, "v1"))
    content(portal, "v1")
    content(portal, "v1")
    content(portal, "d1")
    content(portal, "d2")  # refused: not an access under the grant
    response = portal.client.get("/api/v1/retrievals.csv", headers=portal.as_role("security_auditor"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, line = rows[0], rows[1]
    record = dict(zip(header, line, strict=True))
    assert record["id 编号"] == str(request_id)
    assert record["requester 申请人"] == "supervisor"
    assert record["department 部门"] == "法制"  # in Chinese, as the pages say it
    assert record["legal_basis 依据"] == BASIS
    assert record["purpose 事由"].startswith("'=HYPERLINK")  # never a formula in Excel
    assert record["scope 调取范围"] == "d1 v1"
    assert record["decision 审批结果"] == "active"
    assert record["decider 审批人"] == "archive-manager"
    assert " – " in record["grant_period 授权期间"]
    assert record["access_count 调阅次数"] == "4"
    assert record["accesses 调阅记录"].count("v1 record.view preparing") == 1
    assert record["accesses 调阅记录"].count("v1 record.view allowed") == 2
    assert "d1 record.view allowed" in record["accesses 调阅记录"]
    export = entries(portal, "register.read")[-1]
    assert export.detail["export"] == "csv" and export.actor == "security-auditor"


# --- notifications ---------------------------------------------------------------------------


def notices(portal: Portal, role: str) -> list[dict[str, Any]]:
    """The role's notifications."""
    response = portal.client.get("/api/v1/notifications", headers=portal.as_role(role))
    assert response.status_code == 200
    return list(response.json()["notifications"])


def test_notifications_for_manager_requester_and_expiring_grant(portal: Portal) -> None:
    start = datetime.now(UTC)
    at(portal, start)
    request_id = file_request(portal, days=2).json()["id"]
    own = file_request(portal, role="archive_manager").json()["id"]
    pending = notices(portal, "archive_manager")
    assert [(n["kind"], n["request_id"]) for n in pending] == [("pending", request_id)]  # not their own
    assert CASE_NO in pending[0]["message"]
    assert notices(portal, "supervisor") == []

    decide(portal, request_id, reason="同意")
    assert notices(portal, "archive_manager") == []
    told = notices(portal, "supervisor")
    assert [(n["kind"], n["request_id"]) for n in told] == [("decided", request_id)]
    assert "已批准" in told[0]["message"]

    at(portal, start + timedelta(days=1, hours=12))  # the grant ends in 12 h
    kinds = {n["kind"]: n for n in notices(portal, "supervisor")}
    assert set(kinds) == {"decided", "expiring"}
    assert kinds["expiring"]["grant_id"] and kinds["expiring"]["request_id"] == request_id

    at(portal, start + timedelta(days=9))  # decision is old news, the grant is over
    assert notices(portal, "supervisor") == []
    assert [n["request_id"] for n in notices(portal, "archivist")] == []
    assert own  # still pending for another manager to decide


def test_requester_is_told_of_a_revocation(portal: Portal) -> None:
    request_id = approved(portal)
    portal.client.post(
        f"/api/v1/retrievals/{request_id}/revoke",
        json={"reason": "复核已结束"},
        headers=portal.as_role("archive_manager"),
    )
    latest = notices(portal, "supervisor")[0]
    assert latest["kind"] == "decided" and "撤销" in latest["message"] and "复核已结束" in latest["message"]
