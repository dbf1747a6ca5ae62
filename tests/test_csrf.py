"""Cross-site request forgery: every state-changing route of both apps refuses a browser that
comes with its session cookie but without the session's CSRF token (the `csrf_token` form field
for pages, the `X-CSRF-Token` header for the API). The routes are walked from the apps
themselves, so a new route that is not under a router with the check fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from portal.web.auth import UNSAFE_METHODS
from tests.support.portal import PASSWORD, Portal
from tests.support.web import CSRF_FIELD

pytestmark = [
    pytest.mark.store("file"),
]


# A refusal naming the CSRF rule: the refusal page's rule tag, or the JSON answer's rule.
REFUSAL = re.compile(r'<code>csrf</code>|"rule":\s*"csrf"')
APPLICANT_PASSWORD = "申请人的密码 is long enough"
# Routes used before there is a session: they check the pre-session double-submit pair (the
# sign-in and registration forms) or take no cookie at all (token and registration by API).
SIGN_IN = {
    ("POST", "/login"): "the sign-in form's pre-session pair",
    ("POST", "/api/v1/token"): "password for a bearer token",
    ("POST", "/public/login"): "the sign-in form's pre-session pair",
    ("POST", "/public/register"): "the registration form's pre-session pair",
    ("POST", "/public/api/v1/register"): "an applicant's registration",
    ("POST", "/public/api/v1/token"): "password for a bearer token",
}


def unsafe_routes(items: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every state-changing route, through included routers and mounted apps."""
    for route in items:
        if isinstance(route, APIRoute) or hasattr(route, "methods"):
            for method in sorted(set(route.methods) & UNSAFE_METHODS):
                yield method, prefix + route.path
        elif isinstance(route, Mount):
            yield from unsafe_routes(getattr(route.app, "routes", []), prefix + route.path)
        else:  # a router included in another
            yield from unsafe_routes(route.original_router.routes, prefix + route.include_context.prefix)


def _token(page: Any) -> str:
    found = CSRF_FIELD.search(page.text)
    assert found, page.text
    return found.group(1)


def _browser(portal: Portal) -> TestClient:
    """A browser signed in at both doors: as the archivist inside, as an applicant outside."""
    registered = portal.client.post(
        "/public/api/v1/register",
        json={
            "username": "zhangsan",
            "password": APPLICANT_PASSWORD,
            "name": "张三",
            "id_type": "resident_id",
            "id_number": "11010519491231002X",
            "phone": "138 0013 8000",
            "email": "zhangsan@example.cn",
            "address": "深圳市福田区示例路1号",
        },
    )
    assert registered.status_code == 201, registered.text
    browser = TestClient(portal.client.app, base_url="https://testserver")
    for path, username, password in (
        ("/login", "archivist", PASSWORD),
        ("/public/login", "zhangsan", APPLICANT_PASSWORD),
    ):
        form = {"username": username, "password": password, "csrf_token": _token(browser.get(path))}
        signed_in = browser.post(path, data=form, follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
    return browser


def test_every_state_changing_route_refuses_a_cookie_without_the_token(portal: Portal) -> None:
    """Each unsafe route but sign-in, called with both session cookies and no token: 403 csrf,
    and the sessions are still there afterwards (not even sign-out went through)."""
    browser = _browser(portal)
    found = set(unsafe_routes(portal.client.app.routes))
    assert set(SIGN_IN) <= found, "sign-in routes that no longer exist"
    walked = sorted(found - set(SIGN_IN))
    assert ("POST", "/disclosures/{request_id}/decision") in walked
    wrong = []
    for method, path in walked:
        url = re.sub(r"\{[^}]+\}", "1", path)
        answer = browser.request(method, url, follow_redirects=False)
        if answer.status_code != 403 or not REFUSAL.search(answer.text):
            wrong.append(f"{method} {path}: {answer.status_code}")
    assert wrong == [], "\n".join(wrong)
    assert browser.get("/", follow_redirects=False).status_code == 200
    assert browser.get("/public/disclosures", follow_redirects=False).status_code == 200


def test_the_api_refusal_names_the_rule_and_a_wrong_token_is_refused_too(portal: Portal) -> None:
    browser = _browser(portal)
    for path in ("/api/v1/holds", "/public/api/v1/disclosures"):
        refused = browser.post(path, json={}, headers={"X-CSRF-Token": "not-the-session-token"})
        assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "csrf", path


def test_an_upload_without_the_token_is_refused_and_with_it_reaches_the_form(portal: Portal) -> None:
    """The multipart reply form (spooled to disk): the check reads its field, and the handler
    still gets its form fields (a bad reply type is answered on the form, not as a CSRF refusal)."""
    browser = _browser(portal)
    files = {"redaction_file": ("copy.pdf", b"%PDF-1.4 redacted", "application/pdf")}
    refused = browser.post("/disclosures/1/decision", data={"decision": "x"}, files=files)
    assert refused.status_code == 403 and REFUSAL.search(refused.text)
    token = _token(browser.get("/"))
    sent = browser.post("/disclosures/1/decision", data={"csrf_token": token, "decision": "x"}, files=files)
    assert sent.status_code in {403, 404, 422} and not REFUSAL.search(sent.text), sent.text


def test_bearer_callers_need_no_token(portal: Portal) -> None:
    """Browsers never send a bearer token on their own, so the API takes one without the header."""
    answer = portal.client.post(
        "/api/v1/holds",
        json={"case_no": "NO-SUCH-CASE", "mandate": "信访", "reason": "复查"},
        headers=portal.as_role("supervisor"),
    )
    assert answer.status_code in {403, 404, 409} and not REFUSAL.search(answer.text), answer.text
