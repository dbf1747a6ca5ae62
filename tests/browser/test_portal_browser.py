"""The portal in a real browser: sign in, catalogue, timeline, video playback, refusal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import Live

pytestmark = [
    pytest.mark.store("file"),
]

CASE_NO = "深民防罚〔2026〕12号"
SCREENSHOT = "/tmp/casevault-case-page.png"


def test_sign_in_catalogue_and_case_timeline(live: Live, page: Any) -> None:
    live.sign_in(page, "archivist")
    assert page.url == f"{live.url}/"
    assert page.locator("table.cases").get_by_text(CASE_NO).is_visible()
    with page.expect_navigation():
        page.get_by_role("link", name=CASE_NO).click()
    timeline = page.locator("svg.timeline")
    assert timeline.is_visible()
    assert timeline.locator("rect.stage-band").count() == 5
    assert timeline.locator("g.av-bar").count() == 1
    box = timeline.bounding_box()
    assert box is not None and box["width"] > 700 and box["height"] > 150
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_the_video_really_plays_under_the_watermark(live: Live, page: Any) -> None:
    live.sign_in(page, "archivist")
    page.goto(f"{live.url}/bundles/{live.portal.bundle_id}/records/v1")
    video = page.locator("video")
    played = page.evaluate(
        """async () => {
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
    )
    assert played["error"] is None
    assert played["readyState"] >= 2 and played["currentTime"] > 0.2, played
    mark = page.locator(".watermark span").first
    assert mark.is_visible() and "archivist" in mark.inner_text()
    v, w = video.bounding_box(), page.locator(".watermark").bounding_box()
    assert v and w and w["x"] <= v["x"] and w["x"] + w["width"] >= v["x"] + v["width"]  # covers the video


def test_refused_user_sees_why(live: Live, page: Any) -> None:
    live.sign_in(page, "sysadmin")
    response = page.goto(f"{live.url}/bundles/{live.portal.bundle_id}/records/v1")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="无法查阅").is_visible()
    assert page.get_by_text("三员分立").first.is_visible()
    assert page.locator("video").count() == 0


def test_public_page_fits_a_phone(live: Live, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    phone = context.new_page()
    phone.goto(f"{live.url}/public/")
    assert phone.get_by_text("随机抽查").is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
