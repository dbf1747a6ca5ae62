"""Each of the eight roles lands on its own page after signing in — never on a refusal; the
system administrator's settings page shows the signing keys and the health of the database and
the stores (and still answers, 503, while a store is down); the security auditor can narrow the
ledger to the administrators' actions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from access.models import Role
from access.policy import Action, Subject, permits
from portal.web.pages import START_PAGES
from tests.support.portal import PASSWORD, Portal, username
from tests.support.web import CSRF_FIELD, signed_in

pytestmark = pytest.mark.store("file")

# What each start page says it is, in Chinese (the default language).
HEADINGS = {
    "archivist": "共",  # the catalogue's count
    "archive_manager": "共",
    "supervisor": "查找案件",  # the case search: supervisors find what they may ask for
    "disclosure_officer": "依申请公开",
    "security_auditor": "异常行为",
    "security_admin": "账户管理",
    "sysadmin": "系统设置",
    "applicant": "我的申请",
}


def test_every_role_has_a_start_page_it_may_open() -> None:
    assert set(START_PAGES) == set(Role)
    for role, path in START_PAGES.items():
        if path == "/":  # the catalogue: only for roles that list cases, else it would send them on
            assert permits(Subject(username="x", role=role), Action.case_list), role


APPLICANT = {
    "username": "zhangsan",
    "password": PASSWORD,
    "name": "张三",
    "id_type": "resident_id",
    "id_number": "11010519491231002X",
    "phone": "138 0013 8000",
    "email": "zhangsan@example.cn",
    "address": "深圳市福田区示例路1号",
}


def _browser(portal: Portal, role: str) -> TestClient:
    """A fresh browser, signed in as the user of that role (the start page not yet asked for)."""
    browser = TestClient(portal.client.app, base_url="https://testserver")
    assert signed_in(Portal(browser, portal.wired, portal.bundle_id, {}), role)
    return browser


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_role_lands_on_its_own_page_after_signing_in(portal: Portal, role: str) -> None:
    name = username(role)
    if role == "applicant":  # a registered party signs in at the public door
        registered = portal.client.post("/public/api/v1/register", json=APPLICANT)
        assert registered.status_code == 201, registered.text
        name = APPLICANT["username"]
    browser = TestClient(portal.client.app, base_url="https://testserver")
    door = "/public/login" if role == "applicant" else "/login"
    form = browser.get(door)
    token = CSRF_FIELD.search(form.text)
    assert token, form.text
    landed = browser.post(door, data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)})
    assert landed.status_code == 200, (role, landed.status_code, landed.url)
    assert landed.url.path == START_PAGES[Role(role)]
    assert [r.status_code for r in landed.history] == [303] * len(landed.history)
    assert "refusal" not in landed.text and "无法查阅" not in landed.text
    assert HEADINGS[role] in landed.text
    browser.close()


def test_the_catalogue_address_sends_each_role_to_its_start_page(portal: Portal) -> None:
    for role in ("security_admin", "sysadmin", "security_auditor"):
        client = _browser(portal, role)
        home = client.get("/", follow_redirects=False)
        assert (home.status_code, home.headers["location"]) == (303, START_PAGES[Role(role)]), role
        assert f'class="brand" href="{START_PAGES[Role(role)]}"' in client.get("/").text


def test_a_page_asked_for_before_signing_in_is_still_where_sign_in_goes(portal: Portal) -> None:
    browser = TestClient(portal.client.app, base_url="https://testserver")
    form = browser.get("/login?next=/calendar")
    token = CSRF_FIELD.search(form.text)
    assert token
    landed = browser.post(
        "/login",
        data={
            "username": "sysadmin",
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": "/calendar",
        },
        follow_redirects=False,
    )
    assert landed.headers["location"] == "/calendar"
    browser.close()


def test_the_sysadmin_settings_page_shows_keys_health_and_links(portal: Portal) -> None:
    client = signed_in(portal, "sysadmin").client
    shown = client.get("/admin/settings")
    assert shown.status_code == 200, shown.text
    text = shown.text
    for part in ("health-database", "health-store", "health-release"):
        assert f'id="{part}"' in text
    assert text.count("✔ 可访问") == 3 and "无法访问" not in text
    kid = portal.wired.keyring.key_files()[0][0]
    assert kid in text and "当前签名密钥" in text
    assert 'href="/calendar"' in text and 'href="/retention/schedule"' in text
    assert 'href="/admin/users"' not in text  # no account management for the system administrator
    assert client.get("/calendar").status_code == 200
    assert client.get("/retention/schedule").status_code == 200
    assert client.get("/admin/users").status_code == 403


def test_the_settings_page_still_answers_while_the_store_is_down(portal: Portal, tmp_path: Path) -> None:
    client = signed_in(portal, "sysadmin").client
    objects = Path(portal.wired.settings.store_url.removeprefix("file://"))
    aside = tmp_path / "aside"
    shutil.move(objects, aside)
    try:
        down = client.get("/admin/settings")
    finally:
        shutil.move(aside, objects)
    assert down.status_code == 503 and int(down.headers["Retry-After"]) > 0
    row = down.text.split('id="health-store"', 1)[1].split("</tr>", 1)[0]
    assert "无法访问" in row
    assert 'id="down"' in down.text and "当前签名密钥" in down.text  # the rest of the page is drawn
    assert client.get("/admin/settings").status_code == 200  # and it recovers by itself


@pytest.mark.parametrize("role", ["security_admin", "archivist", "security_auditor"])
def test_only_the_sysadmin_opens_the_settings_page(portal: Portal, role: str) -> None:
    answer = signed_in(portal, role).client.get("/admin/settings")
    assert answer.status_code == 403 and "可访问" not in answer.text


def test_the_auditor_narrows_the_ledger_to_the_administrators(portal: Portal) -> None:
    made = portal.client.post(
        "/api/v1/users",
        json={"username": "li.ming", "role": "archivist", "reason": "新入职档案管理员"},
        headers=portal.as_role("security_admin"),
    )
    assert made.status_code == 201
    assert _browser(portal, "sysadmin").get("/admin/settings").status_code == 200
    assert portal.client.get("/api/v1/cases", headers=portal.as_role("archivist")).status_code == 200

    found = portal.client.get(
        "/api/v1/ledger?admins=true&limit=500", headers=portal.as_role("security_auditor")
    )
    assert found.status_code == 200
    entries = found.json()["entries"]
    actors = {e["actor"] for e in entries}
    assert {"security-admin", "sysadmin"} <= actors and "archivist" not in actors
    assert all(
        e["actor"] in {"security-admin", "sysadmin"} or e["action"].startswith("user.") for e in entries
    )
    assert ("security-admin", "user.create", "ok") in {
        (e["actor"], e["action"], e["outcome"]) for e in entries
    }
    assert ("sysadmin", "settings.read", "allowed") in {
        (e["actor"], e["action"], e["outcome"]) for e in entries
    }

    auditor = _browser(portal, "security_auditor")
    page = auditor.get("/ledger?admins=1")
    assert page.status_code == 200 and 'id="admins" name="admins" value="1" checked' in page.text
    assert "新入职档案管理员" in page.text or "user.create" in page.text
    assert 'href="/ledger?admins=1"' in auditor.get("/ledger").text


def test_the_administrators_pages_speak_english_too(portal: Portal) -> None:
    admin = _browser(portal, "security_admin")
    assert "New account" in admin.get("/admin/users?lang=en").text
    assert "Initial password" in admin.get("/admin/users/new").text
    shown = admin.get("/admin/users/supervisor").text
    assert "Change role, department and clearance" in shown and "账户" not in shown
    settings = _browser(portal, "sysadmin").get("/admin/settings?lang=en").text
    assert "Store and database health" in settings and "schema revision" in settings
