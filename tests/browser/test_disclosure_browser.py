"""An information-disclosure request in real browsers: an applicant on a phone, an officer at a desk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from portal.cli.demo import DEMO_CASE_NO
from tests.support.browser import Live, watched_tab

pytestmark = [
    pytest.mark.store("file"),
]

APPLICANT_PASSWORD = "申请人的密码-2026-long"
PHONE_SHOT = "/tmp/casevault-disclosure-phone.png"
DASHBOARD_SHOT = "/tmp/casevault-disclosure-dashboard.png"


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A phone-sized browser for the applicant."""
    with watched_tab(chromium, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True) as tab:
        yield tab


def _fits_the_screen(tab: Any) -> bool:
    """Nothing on the page is wider than the phone's screen (no sideways scrolling)."""
    return bool(tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_applicant_submits_officer_releases_applicant_views(live: Live, phone: Any, page: Any) -> None:
    applicant, officer = phone, page

    # The applicant registers on a phone; a wrong ID number is named next to its field.
    applicant.goto(f"{live.url}/public/register")
    assert _fits_the_screen(applicant)
    applicant.fill("#name", "张三")
    applicant.select_option("#id_type", "resident_id")
    applicant.fill("#id_number", "110105194912310021")
    applicant.fill("#phone", "13800138000")
    applicant.fill("#email", "zhangsan@example.cn")
    applicant.fill("#username", "zhangsan")
    applicant.fill("#password", APPLICANT_PASSWORD)
    applicant.fill("#password_confirm", APPLICANT_PASSWORD)
    with applicant.expect_navigation():
        applicant.click("button[type=submit]")
    assert applicant.locator("#id_number").get_attribute("aria-invalid") == "true"
    assert applicant.locator("#id_number-error").is_visible()
    applicant.fill("#id_number", "11010519491231002X")
    applicant.fill("#password", APPLICANT_PASSWORD)
    applicant.fill("#password_confirm", APPLICANT_PASSWORD)
    with applicant.expect_navigation():
        applicant.click("button[type=submit]")

    # … and files a request for the records of the demo case.
    if "/disclosures/new" not in applicant.url:
        applicant.goto(f"{live.url}/public/disclosures/new")
    applicant.check("#relation-party")
    applicant.fill("#case_no", DEMO_CASE_NO)
    applicant.fill("#description", "请求公开本人案件的现场检查记录和执法录像")
    applicant.check("#delivery-online")
    with applicant.expect_navigation():
        applicant.click("#submit-request")
    tracking_url = applicant.url
    assert re.search(r"/public/disclosures/\d+$", tracking_url)
    assert applicant.locator("#due-on").inner_text().startswith("20")
    assert _fits_the_screen(applicant)
    applicant.screenshot(path=PHONE_SHOT, full_page=True)

    # The officer sees it on the deadline picture, takes it and releases one record.
    live.sign_in(officer, "disclosure_officer")
    officer.goto(f"{live.url}/disclosures")
    assert officer.locator("svg rect.bar, svg .bar").count() >= 1
    officer.screenshot(path=DASHBOARD_SHOT, full_page=True)
    with officer.expect_navigation():
        officer.locator("a", has_text=re.compile(r"GK\d{4}-")).first.click()
    with officer.expect_navigation():
        officer.click("#take")
    assert officer.locator("#assignee").inner_text() == "disclosure-officer"
    officer.check("#decision-released")
    officer.fill("#reasons", "经审查，所申请的现场检查记录可以公开。")
    officer.locator("input[name=record_ids]").first.check()
    with officer.expect_navigation():
        officer.click("#send-decision")
    with officer.expect_navigation():
        officer.click("#letter-link")
    letter = officer.locator("main, body").first.inner_text()
    assert "予以公开" in letter and "60" in letter and "6个月" in letter

    # Back on the phone: the reply, the letter and the released record.
    applicant.goto(tracking_url)
    assert applicant.locator("#decision").inner_text() == "予以公开"
    assert applicant.locator("#release-until").is_visible()
    with applicant.expect_navigation():
        applicant.locator("a[href*='/items/']").first.click()
    assert applicant.locator(".viewer iframe").count() == 1
    download = applicant.locator("a[href*='download=1']").first.get_attribute("href")
    assert download is not None
    answer = applicant.request.get(live.url + download if download.startswith("/") else download)
    assert answer.status == 200 and answer.body()[:5] == b"%PDF-"

    # Every step is in the ledger: submission, the reply, and the applicant's views.
    from sqlalchemy import select

    from access.ledger import LedgerEntry

    with live.portal.wired.sessions() as session:
        actions = set(session.scalars(select(LedgerEntry.action)))
    assert {"disclosure.submit", "disclosure.decide", "disclosure.release.view"} <= actions
