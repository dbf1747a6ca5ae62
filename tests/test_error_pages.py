"""Unknown addresses and errors: a browser gets the portal's own styled page, in its language and
with the portal's icon; the API and anyone asking for JSON keep the JSON `ErrorBody` — on the
internal app, the public app mounted beside it, and the public app served alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.wiring import Wired
from tests.support.portal import Portal
from tests.support.web import signed_in

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
ICON_LINK = '<link rel="icon" href="'


def _styled(answer, status: int, *, title: str) -> str:  # type: ignore[no-untyped-def]
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    html = str(answer.text)
    assert html.startswith("<!doctype html>") and ICON_LINK in html and title in html
    assert '"detail"' not in html
    return html


def _json(answer, status: int) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/json")
    assert "detail" in answer.json()


pytestmark = [
    pytest.mark.store("file"),
    pytest.mark.only_on("sqlite", why="how an error is answered does not depend on the database"),
]


def test_internal_app_answers_a_browser_with_its_page_and_the_api_with_json(portal: Portal) -> None:
    client = portal.client
    html = _styled(client.get("/no-such-page", headers=BROWSER), 404, title="未找到")
    assert "Not Found" not in html  # Starlette's English stays out of a Chinese page
    assert 'href="/static/app.css"' in html
    english = _styled(client.get("/no-such-page?lang=en", headers=BROWSER), 404, title="Not found")
    assert 'lang="en"' in english
    _json(client.get("/no-such-page", headers=JSON), 404)
    _json(client.get("/no-such-page"), 404)  # no Accept at all: a program
    _json(client.get("/api/v1/no-such-thing", headers=BROWSER), 404)
    _json(client.get("/api/v1/bundles/nope", headers=BROWSER), 401)
    assert client.get("/no-such-page", headers=JSON).json() == {"detail": "Not Found"}


def test_a_browser_with_a_bad_address_or_method_gets_a_page(portal: Portal) -> None:
    client = signed_in(portal, "security_auditor").client
    html = _styled(client.get("/ledger/not-a-number", headers=BROWSER), 422, title="输入有误")
    assert "int_parsing" not in html
    _styled(client.delete("/no-such-page", headers=BROWSER), 404, title="未找到")
    _styled(client.post("/ledger", headers=BROWSER), 405, title="出错了")
    _json(client.get("/api/v1/ledger/entries/not-a-number/proof", headers=BROWSER), 422)


def test_public_portal_mounted_beside_answers_the_same_way(portal: Portal) -> None:
    client = portal.client
    html = _styled(client.get("/public/no-such-page", headers=BROWSER), 404, title="未找到")
    assert 'href="/public/static/public.css"' in html and 'class="public"' in html
    _json(client.get("/public/no-such-page", headers=JSON), 404)
    _json(client.get("/public/api/v1/no-such-thing", headers=BROWSER), 404)


@pytest.fixture
def public_only(wired: Wired) -> Iterator[TestClient]:
    with TestClient(create_app(wired, kind="public"), base_url="https://testserver") as client:
        yield client


def test_public_app_served_alone_never_shows_a_browser_raw_json(public_only: TestClient) -> None:
    for path in ("/no-such-page", "/public/no-such-page"):
        html = _styled(public_only.get(path, headers=BROWSER), 404, title="未找到")
        assert "public.css" in html
        _json(public_only.get(path, headers=JSON), 404)
    _json(public_only.get("/public/api/v1/no-such-thing", headers=BROWSER), 404)
    css = public_only.get("/static/public.css")
    assert css.status_code == 200
    icon = public_only.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_favicon_is_served_and_linked(portal: Portal) -> None:
    client = portal.client
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.lstrip().startswith(b"<svg") and b"<script" not in icon.content
    assert "max-age" in icon.headers["cache-control"]
    for path in ("/static/favicon.svg", "/public/static/favicon.svg"):
        linked = client.get(path)
        assert linked.status_code == 200 and linked.content == icon.content
    for page in ("/login", "/public/", "/public/login"):
        html = client.get(page).text
        assert ICON_LINK in html, page
    assert '<link rel="icon" href="/public/static/favicon.svg"' in client.get("/public/").text
    assert "/favicon.ico" not in client.get("/openapi.json").text
