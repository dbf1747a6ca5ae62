"""A supervisor finds a case and asks for it, in a real browser: signs in to the case search,
finds the case by its party, files the retrieval request from the result, and once a manager has
approved it (the notice naming who), opens the case from the same search."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from access.models import User
from portal.cli.demo import case_document
from tests.support.browser import Live, watched_tab

pytestmark = [
    pytest.mark.store("file"),
]

CASE_NO = case_document()["case_no"]
SEARCH_SHOT = "/tmp/casevault-case-search.png"


@pytest.fixture
def second(chromium: Any) -> Iterator[Any]:
    """A second browser context (the manager at another desk)."""
    with watched_tab(chromium) as tab:
        yield tab


def test_a_supervisor_finds_a_case_and_asks_for_it(live: Live, page: Any, second: Any) -> None:
    supervisor, manager = page, second
    with live.portal.wired.sessions() as session:
        user = session.scalar(select(User).where(User.username == "archive-manager"))
        assert user is not None
        user.display_name = "档案负责人 陈军"
        session.commit()
    live.sign_in(supervisor, "supervisor")
    assert supervisor.url == f"{live.url}/"
    assert supervisor.locator("h1").inner_text() == "查找案件"
    assert supervisor.locator("#found").count() == 0  # the catalogue no longer says 共 0 件

    # a party's name is enough to find the case; the result says the case, never its records
    supervisor.fill("#party", "商业管理")
    with supervisor.expect_navigation():
        supervisor.click("#search-button")
    rows = supervisor.locator("#found tbody tr")
    assert rows.count() == 1 and CASE_NO in rows.first.inner_text()
    assert "现场检查录像" not in supervisor.locator("main").inner_text()
    supervisor.screenshot(path=SEARCH_SHOT, full_page=True)
    with supervisor.expect_navigation():
        rows.first.locator("a.request-retrieval").click()
    assert supervisor.url.startswith(f"{live.url}/retrievals/new")
    assert supervisor.locator("#case_no").input_value() == CASE_NO
    supervisor.locator("input[name=record_ids][value=v1]").check()
    supervisor.fill("#purpose", "复核当事人投诉涉及的现场检查过程")
    supervisor.fill("#legal_basis", "《行政执法全过程记录规定》第十八条")
    supervisor.fill("#days", "7")
    with supervisor.expect_navigation():
        supervisor.click("#file-request")
    assert supervisor.locator(".request-state").inner_text().strip() == "待审批"
    request_url = supervisor.url

    # the manager is told, approves; the supervisor is told who approved it
    live.sign_in(manager, "archive_manager")
    assert manager.locator("#notice-count").inner_text() == "1"
    manager.goto(request_url)
    manager.fill("#reason", "同意，限本次复核使用")
    with manager.expect_navigation():
        manager.click("#approve")
    supervisor.goto(f"{live.url}/")
    assert supervisor.locator("#notice-count").inner_text() == "1"
    with supervisor.expect_navigation():
        supervisor.click("a.notices-link")
    assert "档案负责人 陈军" in supervisor.locator(".notices").inner_text()
    assert supervisor.locator("#notice-count").count() == 0  # read: the badge is gone

    # the same search now opens the case
    supervisor.goto(f"{live.url}/?case_no={CASE_NO}")
    with supervisor.expect_navigation():
        supervisor.locator("#found a", has_text="查看案卷").click()
    assert supervisor.url == f"{live.url}/bundles/{live.portal.bundle_id}"
    assert CASE_NO in supervisor.locator("main").inner_text()
