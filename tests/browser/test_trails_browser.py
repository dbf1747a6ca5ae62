"""The security auditor in a real browser drills from the ledger into a person's trail, downloads
its signed evidence package, and the stand-alone script verifies what was downloaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Live
from tests.support.portal import username

pytestmark = [
    pytest.mark.store("file"),
]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_evidence.py"


def test_the_auditor_follows_a_person_s_trail_and_exports_a_package_that_verifies(
    live: Live, page: Any, tmp_path: Path
) -> None:
    live.sign_in(page, "supervisor")  # a refusal for the auditor to find: footage without a grant
    page.goto(f"{live.url}/bundles/{live.portal.bundle_id}/records/v1")
    with page.expect_navigation():
        page.get_by_role("button", name="退出登录").click()

    live.sign_in(page, "security_auditor")
    page.goto(f"{live.url}/ledger?actor={username('supervisor')}")
    with page.expect_navigation():
        page.locator("table.ledger tbody tr td:nth-child(3) a").first.click()
    assert "/trails?actor=" in page.url
    assert page.get_by_role("heading", name=f"{username('supervisor')} 的审计轨迹").is_visible()
    refused = page.locator("table.trail tbody tr", has_text="拒绝").first
    assert (
        "查看记录" in refused.inner_text()
        and "上级部门须经调取登记批准后才能查看本案" in refused.inner_text()
    )
    page.screenshot(path=str(tmp_path / "trail.png"), full_page=True)

    with page.expect_download() as started:
        page.locator("#trail-evidence").click()
    package = tmp_path / "evidence.zip"
    started.value.save_as(package)
    checked = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), str(package)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK:")
