"""Three-role administration in a real browser: the security administrator lands on the accounts,
creates a supervisor, and the supervisor signs in with the password given; the system
administrator lands on the settings page with the health of each service."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import Live

pytestmark = [
    pytest.mark.store("file"),
]

SCREENSHOT = "/tmp/casevault-accounts.png"
PASSWORD = "监察室 wang fang 2026 passphrase"


def test_the_security_administrator_creates_a_supervisor_who_can_sign_in(live: Live, page: Any) -> None:
    live.sign_in(page, "security_admin")
    assert page.url == f"{live.url}/admin/users"
    assert page.get_by_role("heading", name="账户管理").is_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="新建账户").click()
    page.fill("#username", "wang.fang")
    page.fill("#display_name", "王芳")
    page.select_option("#role", "supervisor")
    page.select_option("#department", "supervision")
    page.select_option("#clearance", "secret")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="创建账户").click()
    assert page.locator("#reason-error").inner_text() == "请填写更改理由。"  # nothing made without a reason
    page.fill("#password", PASSWORD)
    page.fill("#reason", "监察室新调入人员，按任命通知开通")
    with page.expect_navigation():
        page.get_by_role("button", name="创建账户").click()
    assert page.url == f"{live.url}/admin/users/wang.fang?done=created"
    assert page.locator("#done").is_visible()
    assert page.get_by_text("监督调取人员").first.is_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="退出登录").click()

    page.fill("#username", "wang.fang")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == f"{live.url}/"  # the supervisor's start page: the catalogue
    assert "wang.fang" in page.locator(".who").inner_text()
    assert page.locator(".who .role").inner_text() == "监督调取人员 · 监察"


def test_the_system_administrator_lands_on_the_settings(live: Live, page: Any) -> None:
    live.sign_in(page, "sysadmin")
    assert page.url == f"{live.url}/admin/settings"
    assert page.get_by_role("heading", name="系统设置").is_visible()
    assert page.locator("#health-database").get_by_text("可访问").is_visible()
    assert page.locator("#health-store").get_by_text("可访问").is_visible()
    page.screenshot(path="/tmp/casevault-settings.png", full_page=True)
    with page.expect_navigation():
        page.get_by_role("link", name="录入节假日安排").click()
    assert page.url == f"{live.url}/calendar"
