"""Disposition in a real browser: an archivist appraises a due case, two managers approve at their
own desks, the destruction is carried out and the certificate printed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from portal.internal.retention import service as dispositions
from tests.support.browser import Live, watched_tab
from tests.support.disposition import OLD_CASE, WITNESSES

pytestmark = [
    pytest.mark.store("file"),
]

CERTIFICATE_SHOT = "/tmp/casevault-certificate.png"


@pytest.fixture
def desks(chromium: Any) -> Iterator[list[Any]]:
    """Two more browser contexts: the managers' desks."""
    with watched_tab(chromium) as first, watched_tab(chromium) as second:
        yield [first, second]


@pytest.mark.usefixtures("due")
def test_proposal_two_approvals_and_the_certificate(live: Live, page: Any, desks: list[Any]) -> None:
    live.sign_in(page, "archivist")
    page.goto(f"{live.url}/retention")
    page.check(f"input[name=case_nos][value='{OLD_CASE}']")
    page.select_option("#action", "destroy")
    page.fill("#opinion", "保管期满，经鉴定无继续保存价值")
    with page.expect_navigation():
        page.click("#propose")
    assert "待审批" in page.inner_text("table.dispositions")

    for desk, manager in zip(desks, ("archive-manager", "archive-manager-2"), strict=True):
        live.sign_in(desk, manager)
        desk.goto(f"{live.url}/retention")
        button = desk.locator("button[id^=approve-]")
        list_id = (button.get_attribute("id") or "").removeprefix("approve-")
        desk.fill(f"#w1-{list_id}", WITNESSES[0])
        desk.fill(f"#w2-{list_id}", WITNESSES[1])
        with desk.expect_navigation():
            button.click()
        assert desk.locator("button[id^=approve-]").count() == 0  # one decision per manager

    dispositions.housekeeping(live.portal.wired)  # what the serve loop does daily

    page.goto(f"{live.url}/retention/certificates")
    with page.expect_navigation():
        page.click("table.certificates a")
    number = page.inner_text("#certificate-no")
    assert number.startswith("XH")
    assert "销毁清册" in page.title() and OLD_CASE in page.content() and WITNESSES[1] in page.content()
    page.emulate_media(media="print")
    assert not page.locator("button[data-print]").is_visible()  # the print button stays off paper
    page.screenshot(path=CERTIFICATE_SHOT, full_page=True)
