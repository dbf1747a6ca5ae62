"""The running portal as a browser test reaches it, and a browser tab that fails on CSP violations."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.support.portal import PASSWORD, Portal, username


@dataclass
class Live:
    """The running portal: its base URL and the archive behind it."""

    url: str
    portal: Portal

    def sign_in(self, page: Any, role: str) -> None:
        """Sign in through the form as the user of that role."""
        page.goto(f"{self.url}/login")
        page.fill("#username", username(role))
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")


@contextlib.contextmanager
def watched_tab(chromium: Any, **options: Any) -> Iterator[Any]:
    """A fresh browser context (a person at a desk, or on a phone) and its page; fails the test on
    any Content Security Policy violation the page logged."""
    context = chromium.new_context(locale="zh-CN", **({"viewport": {"width": 1280, "height": 900}} | options))
    tab = context.new_page()
    violations: list[str] = []
    tab.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    yield tab
    context.close()
    assert violations == [], violations
