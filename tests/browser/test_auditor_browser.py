"""The security auditor in a real browser: lands on today's anomalies (the administrator's change
among them), acknowledges it with a note, reviews the administrators' own actions in the ledger,
and verifies the whole hash chain from the page, the verification itself ledgered."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import Live

pytestmark = [
    pytest.mark.store("file"),
]


def test_the_auditor_reviews_the_administrators_and_verifies_the_chain(live: Live, page: Any) -> None:
    live.sign_in(page, "security_admin")  # an administrator's action for the auditor to find
    page.goto(f"{live.url}/admin/users/archivist")
    page.select_option("#standing-clearance", "secret")
    page.fill("#standing-reason", "承办涉密案件，经审批调整")
    with page.expect_navigation():
        page.get_by_role("button", name="保存更改").click()
    with page.expect_navigation():
        page.get_by_role("button", name="退出登录").click()

    live.sign_in(page, "security_auditor")
    assert page.url.startswith(f"{live.url}/anomalies")
    assert page.get_by_role("heading", name="异常行为").first.is_visible()
    assert page.locator("svg.activity").is_visible()  # 30 days of anomalies as a picture
    flagged = page.locator('#today tr[data-kind="admin_action"]')
    assert flagged.count() > 0 and "管理员操作" in flagged.first.inner_text()
    flagged.first.locator("textarea").fill("已核对审批单，调整属实")
    with page.expect_navigation():
        flagged.first.get_by_role("button", name="确认").click()
    assert "已核对审批单，调整属实" in page.locator("#today").inner_text()
    page.screenshot(path="/tmp/casevault-anomalies.png", full_page=True)

    with page.expect_navigation():
        page.get_by_role("navigation").get_by_role("link", name="访问台账").click()
    assert page.get_by_role("heading", name="访问台账").first.is_visible()
    with page.expect_navigation():
        page.locator("#admins-link").click()
    rows = page.locator("table.ledger tbody tr")
    assert rows.count() > 0
    actors = {rows.nth(i).locator("td").nth(2).inner_text() for i in range(rows.count())}
    # Only the administrators' own actions, and the account changes ("test" made the accounts at set-up).
    assert "security-admin" in actors and actors <= {"security-admin", "test"}
    assert page.locator("table.ledger").get_by_text("更改账号").first.is_visible()  # named, not a code alone

    page.goto(f"{live.url}/ledger")
    with page.expect_navigation():
        page.get_by_role("button", name="立即校验整条哈希链").click()
    status = page.locator("#verification [role=status]")
    assert status.is_visible() and "✔" in status.inner_text()
    page.screenshot(path="/tmp/casevault-auditor.png", full_page=True)
