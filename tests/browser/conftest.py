"""Browser fixtures: the real app served by uvicorn on a loopback port, driven by headless Chromium.

Chromium is the Debian package at /usr/bin/chromium, driven by Playwright through
`executable_path` (never `playwright install`). With CI=true a missing browser fails the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Live, watched_tab
from tests.support.portal import Portal
from tests.support.services import free_port, missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the browser tests, stopped after them: Playwright's driver keeps
    an event loop running in the main thread, which later tests' `asyncio.run` would trip over."""
    if not CHROMIUM.exists():
        missing("Chromium", f"{CHROMIUM} not found (Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright", "pip install playwright (never `playwright install`)")
    driver = sync_playwright().start()
    browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    driver.stop()


@pytest.fixture
def live(portal: Portal) -> Iterator[Live]:
    """The internal and public app, served by uvicorn in a thread on a free 127.0.0.1 port."""
    import uvicorn

    from portal.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(portal.wired), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 20 s")
        time.sleep(0.05)
    yield Live(f"http://127.0.0.1:{port}", portal)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context and page at a desk."""
    with watched_tab(chromium) as tab:
        yield tab
