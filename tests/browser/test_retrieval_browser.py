"""Registered retrieval in a real browser: a supervisor and a manager signed in at the same time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import Live, watched_tab

pytestmark = [
    pytest.mark.store("file"),
]

FORM_SHOT = "/tmp/casevault-retrieval-form.png"
REGISTER_SHOT = "/tmp/casevault-register.png"
PLAY = """async () => {
    const v = document.querySelector('video');
    v.muted = true;
    await v.play();
    const start = Date.now();
    while (Date.now() - start < 15000) {
        if (v.readyState >= 2 && v.currentTime > 0.2) break;
        await new Promise(r => setTimeout(r, 100));
    }
    return {readyState: v.readyState, currentTime: v.currentTime, error: v.error && v.error.code};
}"""


@pytest.fixture
def second(chromium: Any) -> Iterator[Any]:
    """A second browser context (another person at another desk)."""
    with watched_tab(chromium) as tab:
        yield tab


def test_request_approve_view_copy_revoke(live: Live, page: Any, second: Any) -> None:
    supervisor, manager = page, second
    live.sign_in(supervisor, "supervisor")
    live.sign_in(manager, "archive_manager")
    record_url = f"{live.url}/bundles/{live.portal.bundle_id}/records/v1"

    # refused, then asks for a retrieval from the refusal page
    response = supervisor.goto(record_url)
    assert response is not None and response.status == 403
    with supervisor.expect_navigation():
        supervisor.click("#request-retrieval")
    assert supervisor.url.startswith(f"{live.url}/retrievals/new")
    assert supervisor.locator("#case_no").input_value() != ""
    assert supervisor.locator("input[name=record_ids][value=v1]").is_checked()
    supervisor.fill("#purpose", "复核当事人投诉涉及的现场检查过程")
    supervisor.fill("#legal_basis", "《行政执法全过程记录规定》第十八条")
    supervisor.check("#want-download")
    supervisor.fill("#days", "7")
    supervisor.screenshot(path=FORM_SHOT, full_page=True)
    with supervisor.expect_navigation():
        supervisor.click("#file-request")
    found = re.search(r"/retrievals/(\d+)$", supervisor.url)
    assert found, supervisor.url
    request_url = supervisor.url
    assert supervisor.locator(".request-state").inner_text().strip() == "待审批"

    # the manager sees the notice, opens the request and approves it with a reason
    manager.reload()
    assert manager.locator("#notice-count").inner_text() == "1"
    with manager.expect_navigation():
        manager.click("a.notices-link")
    with manager.expect_navigation():
        manager.locator(f'.notices a[href="/retrievals/{found.group(1)}"]').click()
    manager.fill("#reason", "同意，限本次复核使用")
    with manager.expect_navigation():
        manager.click("#approve")
    assert "已批准" in manager.locator(".request-state").inner_text()

    # the supervisor's page shows the approval
    supervisor.goto(request_url)
    assert "已批准" in supervisor.locator(".request-state").inner_text()
    assert supervisor.get_by_text("同意，限本次复核使用").is_visible()

    # opens v1: first a rendition watermarked for this grant is prepared (the page says so and
    # reloads itself), then the video plays, with a mark naming them
    with supervisor.expect_navigation():
        supervisor.locator(f'a[href="/bundles/{live.portal.bundle_id}/records/v1"]').first.click()
    supervisor.locator("video").wait_for(state="attached", timeout=120_000)
    played = supervisor.evaluate(PLAY)
    assert played["error"] is None and played["readyState"] >= 2, played
    assert "supervisor" in supervisor.locator(".watermark span").first.inner_text()

    # a watermarked copy: progress to 100 %, then the file link
    supervisor.click("#copy-start")
    link = supervisor.locator("#copy-link")
    link.wait_for(state="visible", timeout=120_000)
    assert supervisor.locator("#copy-percent").inner_text() == "100 %"
    assert supervisor.locator("#copy-bar").evaluate("b => b.value") == 100
    href = link.get_attribute("href")
    assert href and href.startswith("/api/v1/copies/") and href.endswith("/file")
    fetched = supervisor.request.get(f"{live.url}{href}")
    assert fetched.status == 200 and fetched.headers["x-casevault-fingerprint"]

    # the manager sees the register, then revokes; the supervisor is refused again
    manager.goto(f"{live.url}/register")
    assert manager.locator("table.register tbody tr").count() == 1
    manager.locator("details.accesses summary").first.click()
    manager.screenshot(path=REGISTER_SHOT, full_page=True)
    manager.goto(f"{live.url}/retrievals/{found.group(1)}")
    manager.fill("#revoke_reason", "复核已结束")
    with manager.expect_navigation():
        manager.click("#revoke")
    assert "已撤销授权" in manager.locator(".request-state").inner_text()
    response = supervisor.reload()
    assert response is not None and response.status == 403
    assert supervisor.locator("video").count() == 0
