"""Deposit in a real browser: an archivist chooses a case folder holding a 200 MB recording, the
upload is cut off partway, the page is reloaded and the same folder chosen again — the upload
continues from the offset the server holds — then the case is sealed and its page opened.
A deposit of a case already sealed asks first whether to seal version N+1."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portal.cli.demo import case_document
from tests.support.browser import Live

pytestmark = [
    pytest.mark.store("file"),
    pytest.mark.only_on("sqlite", why="the browser and the uploads are the same on either database"),
]

CASE_NO = "深民防罚〔2026〕901号"
FOOTAGE_BYTES = 200 << 20
CHUNK = 16 << 20  # the page's tus chunk size
SCREENSHOT = "/tmp/casevault-deposit.png"
FORM_SCREENSHOT = "/tmp/casevault-deposit-form.png"

# Wait until the recording's row has sent more than `bytes`, then cut every upload off; -1 when
# it has not within a minute (the test then fails, instead of waiting for ever).
CUT_OFF = """async ([name, bytes]) => {
    for (const deadline = Date.now() + 60000; Date.now() < deadline;) {
        const rows = [...document.querySelectorAll('#upload-list li')];
        const row = rows.find(li => li.dataset.path.endsWith(name));
        if (row && Number(row.dataset.sent || 0) > bytes) {
            window.casevaultDeposit.uploads.forEach(u => u.abort());
            return Number(row.dataset.sent);
        }
        await new Promise(r => setTimeout(r, 5));
    }
    return -1;
}"""


def choose_folder(page: Any, folder: Path) -> None:
    """Choose the folder once the page's script listens for the choice (it is deferred: on a busy
    machine a choice made before it ran would start nothing). Deferred scripts have run when
    DOMContentLoaded fires; `wait_for_function` is not used because its polling calls `eval`,
    which the page's Content-Security-Policy rightly refuses."""
    page.wait_for_load_state("domcontentloaded")
    assert page.evaluate("() => window.casevaultDeposit !== undefined")
    page.set_input_files("#folder", str(folder))


def big_case(make_case: Callable[..., Path]) -> tuple[Path, str]:
    """A case folder whose recording is a real clip padded to 200 MB (sparse: cheap to make)."""
    document = case_document(CASE_NO)
    folder = make_case(document, name="案卷901")
    video = next(r["path"] for r in document["records"] if r["kind"] == "av")
    with (folder / video).open("r+b") as out:
        out.truncate(FOOTAGE_BYTES)
    assert os.path.getsize(folder / video) == FOOTAGE_BYTES
    return folder, Path(video).name


def test_an_archivist_deposits_a_folder_with_a_200_mb_recording_and_resumes(
    live: Live, page: Any, make_case: Callable[..., Path]
) -> None:
    folder, video = big_case(make_case)
    live.sign_in(page, "archivist")
    page.get_by_role("link", name="归档", exact=True).click()
    assert page.get_by_role("heading", name="归档案卷").is_visible()

    choose_folder(page, folder)
    sent = page.evaluate(CUT_OFF, [video, 3 * CHUNK + (1 << 20)])
    assert sent > 3 * CHUNK

    page.reload()
    choose_folder(page, folder)
    page.wait_for_selector("#deposit-submit:not([disabled])", timeout=120_000)
    row = page.locator(f"#upload-list li[data-path$='{video}']")
    resumed = int(row.get_attribute("data-resumed-from") or 0)
    assert resumed >= 3 * CHUNK  # the chunks the server had acknowledged were not sent again
    assert row.locator("progress").evaluate("p => p.value === p.max")
    assert page.locator("#upload-list li").count() == len(list(p for p in folder.rglob("*") if p.is_file()))
    assert page.locator("#upload-status").inner_text() == "全部文件已上传，可以提交归档。"
    page.screenshot(path=FORM_SCREENSHOT, full_page=True)

    with page.expect_navigation(timeout=120_000):
        page.click("#deposit-submit")
    assert page.get_by_role("heading", name="案卷已封存").is_visible()
    assert f"案卷 {CASE_NO} 已封存为第 1 版" in page.inner_text("#deposit-sealed")
    page.screenshot(path=SCREENSHOT, full_page=True)
    with page.expect_navigation():
        page.click("#bundle-link")
    assert CASE_NO in page.inner_text("main")
    assert page.locator("svg.timeline").is_visible()


def test_a_case_already_sealed_is_offered_as_a_supplement(
    live: Live, page: Any, make_case: Callable[..., Path]
) -> None:
    folder = make_case(name="已封存")  # the demo case, sealed as version 1 already
    live.sign_in(page, "archivist")
    page.goto(f"{live.url}/deposit")
    choose_folder(page, folder)
    page.wait_for_selector("#deposit-submit:not([disabled])")
    with page.expect_navigation():
        page.click("#deposit-submit")
    assert "已封存为第 1 版，本次未存储任何内容" in page.inner_text("#already-sealed")
    page.check("#supplement")
    assert page.get_by_text("作为补充版本 2 归档").is_visible()
    with page.expect_navigation():
        page.click("#supplement-submit")
    assert "已封存为第 2 版" in page.inner_text("#deposit-sealed")
    assert page.locator("#supplement-note").is_visible()


def test_a_refusal_shows_the_cli_s_words(live: Live, page: Any, make_case: Callable[..., Path]) -> None:
    document = case_document("深民防罚〔2026〕902号")
    folder = make_case(document, name="缺文件")
    (folder / document["records"][0]["path"]).unlink()
    live.sign_in(page, "archivist")
    page.goto(f"{live.url}/deposit")
    choose_folder(page, folder)
    page.wait_for_selector("#deposit-submit:not([disabled])")
    with page.expect_navigation():
        page.click("#deposit-submit")
    assert page.locator("#deposit-refused").is_visible()
    said = page.inner_text("#refusal-message")
    assert said == f"case.json: records[0].path: {document['records'][0]['path']!r} is named but missing"
