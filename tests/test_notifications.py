"""Notifications that work: the badge counts what is new and clears once the notifications page
is seen (kept per user, across sign-ins); each role is told of its own events — managers of
pending retrievals and dispositions, officers of new and reassigned disclosure requests,
archivists of failed fixity audits — and the approver is named as people know them (陈军)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from access.models import User
from archive.service import bundle_prefix
from tests.support.bundles import PDF, change_object
from tests.support.disclosure_pages import as_role, post, take
from tests.support.disclosure_pages import file_request as file_disclosure
from tests.support.portal import PASSWORD, Portal
from tests.support.retrieval import decide, file_request
from tests.support.web import badge, signed_in

pytestmark = [pytest.mark.store("file")]

MANAGER_NAME = "档案负责人 陈军"


def named(portal: Portal, username: str, display_name: str) -> None:
    """Give an account the name people know its holder by."""
    with portal.wired.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        user.display_name = display_name
        session.commit()


def kinds(portal: Portal, role: str) -> list[tuple[str, bool]]:
    """(kind, unread) of the role's notices, through the API (which marks nothing read)."""
    answer = portal.client.get("/api/v1/notifications", headers=portal.as_role(role))
    assert answer.status_code == 200
    return [(n["kind"], n["unread"]) for n in answer.json()["notifications"]]


def notice_texts(html: str) -> list[str]:
    """The visible sentence of each notice on the notifications page."""
    items = re.findall(r'<li class="notice notice-[a-z_]+[^"]*">(.*?)</li>', html, flags=re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip() for item in items]


# --- the badge -------------------------------------------------------------------------------


def test_the_badge_clears_once_read_and_stays_cleared_across_sign_ins(portal: Portal) -> None:
    first = file_request(portal).json()["id"]
    as_role(portal, "archive_manager")
    assert badge(portal.client.get("/").text) == 1
    assert kinds(portal, "archive_manager") == [("pending", True)]
    page = portal.client.get("/notifications")
    assert page.status_code == 200 and 'class="count-badge notice-new-tag">新<' in page.text
    assert f'href="/retrievals/{first}"' in page.text
    assert badge(page.text) == 0  # the frame of the page that marked them read
    assert badge(portal.client.get("/").text) == 0
    assert kinds(portal, "archive_manager") == [("pending", False)]  # still listed, no longer new
    again = portal.client.get("/notifications")
    assert "notice-new-tag" not in again.text and f'href="/retrievals/{first}"' in again.text

    as_role(portal, "archive_manager")  # a new session: read is kept for the user, not the browser
    assert badge(portal.client.get("/").text) == 0
    second = file_request(portal).json()["id"]
    assert badge(portal.client.get("/").text) == 1  # only the new one
    answer = portal.client.get("/api/v1/notifications", headers=portal.as_role("archive_manager"))
    assert answer.json()["unread"] == 1 and answer.json()["count"] == 2
    assert [n["request_id"] for n in answer.json()["notifications"] if n["unread"]] == [second]

    # one user reading clears nobody else's badge
    named(portal, "archive-manager", MANAGER_NAME)
    decide(portal, first, reason="同意")
    as_role(portal, "supervisor")
    assert badge(portal.client.get("/").text) == 1
    portal.client.get("/notifications")
    assert badge(portal.client.get("/").text) == 0
    # a revocation is new again, though it is about the same request
    portal.client.post(
        f"/api/v1/retrievals/{first}/revoke",
        json={"reason": "复核已结束"},
        headers=portal.as_role("archive_manager"),
    )
    assert badge(portal.client.get("/").text) == 1


def test_two_tabs_opening_the_notifications_at_once_both_mark_them_read(portal: Portal) -> None:
    file_request(portal)
    as_role(portal, "archive_manager")
    tabs = [TestClient(portal.client.app, base_url="https://testserver") for _ in range(2)]
    for tab in tabs:
        tab.cookies.update(portal.client.cookies)
    start = threading.Barrier(2)

    def open_notifications(tab: TestClient) -> int:
        start.wait()
        return tab.get("/notifications").status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(open_notifications, tabs)) == [200, 200]
    assert badge(portal.client.get("/").text) == 0
    for tab in tabs:
        tab.close()


# --- who is told what ------------------------------------------------------------------------


def test_managers_are_told_of_pending_retrievals_and_dispositions(portal: Portal, due: str) -> None:
    file_request(portal)
    listed = portal.client.post(
        "/api/v1/dispositions",
        json={"case_nos": [due], "action": "destroy", "opinion": "保管期满，无继续保存价值"},
        headers=portal.as_role("archivist"),
    )
    assert listed.status_code == 201, listed.text
    named(portal, "archivist", "档案管理员 王芳")
    assert sorted(kinds(portal, "archive_manager")) == [("disposition_pending", True), ("pending", True)]
    as_role(portal, "archive_manager")
    texts = notice_texts(portal.client.get("/notifications").text)
    (disposition,) = [t for t in texts if "处置清单" in t]
    assert "销毁" in disposition and "1 件" in disposition and "档案管理员 王芳" in disposition
    assert 'href="/retention"' in portal.client.get("/notifications").text
    # the proposer is not asked to approve their own list, nor anyone who never approves
    assert ("disposition_pending", True) not in kinds(portal, "archivist")
    assert kinds(portal, "supervisor") == []
    # once one manager has decided, the list waits for the other, not for them
    approval = portal.client.post(
        f"/api/v1/dispositions/{listed.json()['id']}/approvals",
        json={"approve": True, "reason": "", "witnesses": ["王五", "赵六"]},
        headers=portal.as_role("archive_manager"),
    )
    assert approval.status_code == 200, approval.text
    assert [k for k, _ in kinds(portal, "archive_manager")] == ["pending"]
    other = portal.client.post("/api/v1/token", data={"username": "archive-manager-2", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    told = portal.client.get("/api/v1/notifications", headers=headers).json()["notifications"]
    assert "disposition_pending" in [n["kind"] for n in told]


def test_officers_are_told_of_new_and_reassigned_disclosure_requests(portal: Portal) -> None:
    request_id = file_disclosure(portal)
    assert kinds(portal, "disclosure_officer") == [("disclosure_new", True)]
    as_role(portal, "disclosure_officer")
    texts = notice_texts(portal.client.get("/notifications").text)
    assert any("新的公开申请" in t and "待分办" in t for t in texts)

    take(portal, request_id)  # taking it oneself: no longer new, and nobody "assigned" it to them
    assert kinds(portal, "disclosure_officer") == []

    named(portal, "archive-manager", MANAGER_NAME)
    second = file_disclosure(portal, description="请公开现场检查录像")
    as_role(portal, "archive_manager")
    assigned = post(portal, f"/disclosures/{second}/assign", {"officer": "disclosure-officer"})
    assert assigned.status_code == 303, assigned.text
    assert kinds(portal, "disclosure_officer") == [("disclosure_assigned", True)]
    as_role(portal, "disclosure_officer")
    page = portal.client.get("/notifications").text
    (text,) = [t for t in notice_texts(page) if "分派给您" in t]
    assert MANAGER_NAME in text and "archive-manager" not in text
    assert f'href="/disclosures/{second}"' in page
    assert kinds(portal, "supervisor") == [] and kinds(portal, "archivist") == []


def test_archivists_are_told_of_failed_fixity_audits(portal: Portal, cli: Any) -> None:
    assert kinds(portal, "archivist") == []
    change_object(portal.wired, bundle_prefix(portal.bundle_id) + PDF)
    audited = cli("audit", "run", "--all")
    assert audited.exit_code == 1, audited.output
    assert kinds(portal, "archivist") == [("fixity_failed", True)]
    as_role(portal, "archivist")
    assert badge(portal.client.get("/").text) == 1
    page = portal.client.get("/notifications").text
    (text,) = notice_texts(page)
    assert portal.bundle_id in text and "定期检测未通过" in text and 'href="/fixity"' in page
    assert badge(portal.client.get("/").text) == 0
    assert kinds(portal, "supervisor") == [] and kinds(portal, "disclosure_officer") == []


# --- the approver by name --------------------------------------------------------------------


def test_the_approver_is_named_as_people_know_them(portal: Portal) -> None:
    named(portal, "archive-manager", MANAGER_NAME)
    request_id = file_request(portal).json()["id"]
    assert decide(portal, request_id, reason="同意，限本次复核使用").status_code == 200
    api = portal.client.get("/api/v1/notifications", headers=portal.as_role("supervisor")).json()
    (told,) = api["notifications"]
    assert MANAGER_NAME in told["message"] and "archive-manager" not in told["message"]
    signed_in(portal, "supervisor")
    for path in ("/notifications", "/retrievals/mine", f"/retrievals/{request_id}"):
        page = portal.client.get(path).text
        assert MANAGER_NAME in page, path
    english = portal.client.get("/notifications?lang=en").text
    assert f"approved by {MANAGER_NAME}" in english
    as_role(portal, "archive_manager")
    register = portal.client.get("/register").text
    assert MANAGER_NAME in register
    csv_text = portal.client.get("/api/v1/retrievals.csv", headers=portal.as_role("archive_manager")).text
    assert f"archive-manager ({MANAGER_NAME})" in csv_text
