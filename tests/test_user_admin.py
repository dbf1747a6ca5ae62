"""Account administration by the security administrator (三员分立), over the API and in the
pages: create, disable (the account can no longer sign in), enable, reset the password, change
role, department and clearance — each with a reason, each in the ledger under the
administrator's name — never the administrator's own role or clearance, and nobody else at all."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from access import identities
from access.ledger import LedgerEntry
from access.models import User
from tests.support.portal import PASSWORD, Portal
from tests.support.web import CSRF_FIELD, field_error, signed_in

pytestmark = pytest.mark.store("file")

ADMIN = "security-admin"
NEW_PASSWORD = "another long passphrase 2026"
SUPERVISOR = {
    "username": "wang.fang",
    "display_name": "王芳",
    "role": "supervisor",
    "department": "supervision",
    "clearance": "secret",
    "password": PASSWORD,
    "reason": "监察室新调入人员，按干部任命通知开通账户",
}


def _entries(portal: Portal, *, after: int = 0) -> list[LedgerEntry]:
    with portal.wired.sessions() as session:
        return list(
            session.scalars(select(LedgerEntry).where(LedgerEntry.seq > after).order_by(LedgerEntry.seq))
        )


def _head(portal: Portal) -> int:
    found = _entries(portal)
    return found[-1].seq if found else 0


def _user(portal: Portal, username: str) -> User:
    with portal.wired.sessions() as session:
        found = session.scalar(select(User).where(User.username == username))
        assert found is not None
        return found


def _token_status(portal: Portal, username: str, password: str = PASSWORD) -> int:
    answer = portal.client.post("/api/v1/token", data={"username": username, "password": password})
    return answer.status_code


def _patch(portal: Portal, username: str, body: dict[str, Any], *, role: str = "security_admin") -> Any:
    return portal.client.patch(f"/api/v1/users/{username}", json=body, headers=portal.as_role(role))


# --- the API -----------------------------------------------------------------------------------


def test_the_security_administrator_manages_an_account_over_the_api(portal: Portal) -> None:
    before = _head(portal)
    created = portal.client.post("/api/v1/users", json=SUPERVISOR, headers=portal.as_role("security_admin"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["username"] == "wang.fang" and body["department"] == "supervision"
    assert body["password"] is True and body["disabled"] is False
    assert "$argon2" not in created.text and "hash" not in created.text
    assert _user(portal, "wang.fang").password_hash.startswith("$argon2id$")  # type: ignore[union-attr]

    listed = portal.client.get("/api/v1/users", headers=portal.as_role("security_admin"))
    assert listed.status_code == 200
    assert "wang.fang" in [u["username"] for u in listed.json()["users"]]
    assert "$argon2" not in listed.text
    assert _token_status(portal, "wang.fang") == 200

    off = _patch(portal, "wang.fang", {"disabled": True, "reason": "调离监察室"})
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert _token_status(portal, "wang.fang") == 401  # disabled: cannot sign in
    on = _patch(portal, "wang.fang", {"disabled": False, "reason": "返回原岗位"})
    assert on.status_code == 200 and on.json()["disabled"] is False
    assert _token_status(portal, "wang.fang") == 200

    reset = _patch(portal, "wang.fang", {"password": NEW_PASSWORD, "reason": "本人遗忘密码，经核实身份"})
    assert reset.status_code == 200 and "$argon2" not in reset.text
    assert _token_status(portal, "wang.fang") == 401
    assert _token_status(portal, "wang.fang", NEW_PASSWORD) == 200

    moved = _patch(portal, "wang.fang", {"department": "legal", "reason": "调入法制科"})
    assert moved.status_code == 200 and moved.json()["department"] == "legal"
    role = _patch(portal, "wang.fang", {"role": "archivist", "reason": "转任档案管理员"})
    assert role.status_code == 200, role.text
    assert role.json()["role"] == "archivist" and role.json()["department"] is None  # left the supervisors
    cleared = _patch(portal, "wang.fang", {"clearance": "top_secret", "reason": "经保密审查"})
    assert cleared.status_code == 200 and cleared.json()["clearance"] == "top_secret"

    mine = [(e.action, e.outcome) for e in _entries(portal, after=before) if e.actor == ADMIN]
    for step in (
        ("user.read", "allowed"),
        ("user.create", "allowed"),
        ("user.create", "ok"),
        ("user.update", "allowed"),
        ("user.disable", "ok"),
        ("user.enable", "ok"),
        ("user.reset_password", "ok"),
        ("user.role", "allowed"),
        ("user.change", "ok"),
    ):
        assert step in mine, step
    changes = [
        e
        for e in _entries(portal, after=before)
        if e.actor == ADMIN and e.outcome == "ok" and e.action != "auth.login"
    ]
    assert len(changes) == 7  # create, disable, enable, reset, department, role, clearance
    assert all(e.detail["username"] == "wang.fang" and e.detail["reason"] for e in changes)
    role_change = [e for e in changes if e.action == "user.change" and "role" in e.detail["changed"]]
    assert role_change[0].detail["changed"]["role"] == {"from": "supervisor", "to": "archivist"}
    assert role_change[0].detail["reason"] == "转任档案管理员"


def test_a_change_without_a_reason_is_422_naming_the_field_and_changes_nothing(portal: Portal) -> None:
    admin = portal.as_role("security_admin")
    without = {k: v for k, v in SUPERVISOR.items() if k != "reason"}
    created = portal.client.post("/api/v1/users", json=without, headers=admin)
    assert created.status_code == 422
    assert [p["field"] for p in created.json()["detail"]] == ["reason"]
    blank = portal.client.post("/api/v1/users", json=SUPERVISOR | {"reason": "   "}, headers=admin)
    assert blank.status_code == 422 and blank.json()["detail"].startswith("reason:")
    with portal.wired.sessions() as session:
        assert session.scalar(select(User).where(User.username == "wang.fang")) is None

    patched = _patch(portal, "archivist", {"disabled": True})
    assert patched.status_code == 422 and [p["field"] for p in patched.json()["detail"]] == ["reason"]
    assert _user(portal, "archivist").disabled is False


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"username": "x.y", "role": "archivist", "department": "legal"}, "department", 422),
        ({"username": "x.y", "role": "supervisor"}, "department", 422),
        ({"username": "x.y", "role": "archivist", "password": "short"}, "password", 422),
        ({"username": "archivist", "role": "archivist"}, "username", 422),
        ({"username": "X Y!", "role": "archivist"}, "username", 422),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    portal: Portal, body: dict[str, Any], field: str, status: int
) -> None:
    answer = portal.client.post(
        "/api/v1/users", json=body | {"reason": "开户"}, headers=portal.as_role("security_admin")
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"].startswith(f"{field}:")


def test_an_applicant_role_and_an_unknown_account_are_refused(portal: Portal) -> None:
    admin = portal.as_role("security_admin")
    applicant = portal.client.post(
        "/api/v1/users", json={"username": "x.y", "role": "applicant", "reason": "r"}, headers=admin
    )
    assert applicant.status_code == 422 and applicant.json()["detail"][0]["field"] == "role"
    missing = _patch(portal, "nobody-here", {"disabled": True, "reason": "r"})
    assert missing.status_code == 404


def test_nobody_changes_their_own_role_or_clearance(portal: Portal) -> None:
    for change in ({"role": "sysadmin"}, {"clearance": "top_secret"}):
        before = _head(portal)
        answer = _patch(portal, ADMIN, change | {"reason": "自行提升权限"})
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"]["rule"] == "own-account"
        denied = [e for e in _entries(portal, after=before) if e.outcome == "denied"]
        assert [(e.actor, e.action, e.detail["username"]) for e in denied] == [(ADMIN, "user.role", ADMIN)]
        assert denied[0].detail["reason"] == "自行提升权限"
    mine = _user(portal, ADMIN)
    assert (mine.role, mine.clearance) == ("security_admin", "none")

    # Nor does a second security administrator: the administrators' accounts are the console's.
    assert _user(portal, ADMIN).clearance == "none"


def test_no_other_role_manages_accounts_and_each_refusal_is_ledgered(portal: Portal) -> None:
    for role in (
        "archivist",
        "archive_manager",
        "supervisor",
        "disclosure_officer",
        "security_auditor",
        "sysadmin",
    ):
        headers = portal.as_role(role)
        actor = role.replace("_", "-")
        before = _head(portal)
        calls = [
            portal.client.get("/api/v1/users", headers=headers),
            portal.client.post("/api/v1/users", json=SUPERVISOR, headers=headers),
            portal.client.patch(
                "/api/v1/users/archivist", json={"disabled": True, "reason": "r"}, headers=headers
            ),
            portal.client.patch(
                "/api/v1/users/archivist", json={"role": "sysadmin", "reason": "r"}, headers=headers
            ),
        ]
        assert [c.status_code for c in calls] == [403] * 4, (role, [c.text for c in calls])
        assert all(c.json()["detail"]["rule"] == "role" for c in calls)
        denied = [
            e.action for e in _entries(portal, after=before) if e.actor == actor and e.outcome == "denied"
        ]
        assert denied == ["user.read", "user.create", "user.update", "user.role"], role
    assert _user(portal, "archivist").disabled is False
    assert _user(portal, "archivist").role == "archivist"


# --- the pages ---------------------------------------------------------------------------------


def _csrf(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found
    return found.group(1)


def _signs_in(portal: Portal, username: str, password: str = PASSWORD) -> bool:
    """Whether a fresh browser signs in with this username and password."""
    browser = TestClient(portal.client.app, base_url="https://testserver")
    form = browser.get("/login").text
    answer = browser.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": _csrf(form)},
        follow_redirects=False,
    )
    browser.close()
    return answer.status_code == 303


def test_the_pages_create_disable_enable_reset_and_change_an_account(portal: Portal) -> None:
    client = signed_in(portal, "security_admin").client
    listed = client.get("/admin/users")
    assert listed.status_code == 200 and "账户管理" in listed.text and "archive-manager" in listed.text
    form = client.get("/admin/users/new")
    assert form.status_code == 200
    token = _csrf(form.text)
    fields = {k: v for k, v in SUPERVISOR.items()} | {"csrf_token": token}

    missing = client.post("/admin/users/new", data=fields | {"reason": ""})
    assert missing.status_code == 422
    assert field_error(missing.text, "reason") == "请填写更改理由。"
    wrong = client.post("/admin/users/new", data=fields | {"department": ""})
    assert wrong.status_code == 422
    assert field_error(wrong.text, "department") == "监督调取人员须选择所属监督部门。"

    made = client.post("/admin/users/new", data=fields, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/admin/users/wang.fang?done=created"
    shown = client.get(made.headers["location"])
    assert "账户已创建" in shown.text and "王芳" in shown.text and "$argon2" not in shown.text
    assert _signs_in(portal, "wang.fang")

    base = "/admin/users/wang.fang"
    off = client.post(f"{base}/state", data={"disabled": "1", "reason": "调离", "csrf_token": token})
    assert off.status_code == 200 and "账户已停用" in off.text
    assert not _signs_in(portal, "wang.fang")
    unexplained = client.post(f"{base}/state", data={"disabled": "0", "reason": " ", "csrf_token": token})
    assert unexplained.status_code == 422
    assert field_error(unexplained.text, "state-reason") == "请填写更改理由。"
    assert not _signs_in(portal, "wang.fang")
    on = client.post(f"{base}/state", data={"disabled": "0", "reason": "返岗", "csrf_token": token})
    assert on.status_code == 200 and "账户已启用" in on.text
    assert _signs_in(portal, "wang.fang")

    short = client.post(f"{base}/password", data={"password": "short", "reason": "遗忘", "csrf_token": token})
    assert short.status_code == 422
    assert field_error(short.text, "password-password") == "密码至少 12 个字符。"
    reset = client.post(
        f"{base}/password", data={"password": NEW_PASSWORD, "reason": "遗忘", "csrf_token": token}
    )
    assert reset.status_code == 200 and "密码已重置" in reset.text
    assert not _signs_in(portal, "wang.fang") and _signs_in(portal, "wang.fang", NEW_PASSWORD)

    standing = {"role": "archive_manager", "department": "", "clearance": "confidential", "csrf_token": token}
    changed = client.post(f"{base}/standing", data=standing | {"reason": "任命为档案负责人"})
    assert changed.status_code == 200 and "角色、部门与密级已保存" in changed.text
    user = _user(portal, "wang.fang")
    assert (user.role, user.department, user.clearance) == ("archive_manager", None, "confidential")

    by_admin = [
        e for e in _entries(portal) if e.actor == ADMIN and e.action.startswith("user.") and e.outcome == "ok"
    ]
    assert [e.action for e in by_admin] == [
        "user.create",
        "user.disable",
        "user.enable",
        "user.reset_password",
        "user.change",
    ]
    assert [e.detail["reason"] for e in by_admin] == [
        SUPERVISOR["reason"],
        "调离",
        "返岗",
        "遗忘",
        "任命为档案负责人",
    ]


def test_the_own_account_page_says_the_role_is_not_theirs_to_change(portal: Portal) -> None:
    client = signed_in(portal, "security_admin").client
    own = client.get(f"/admin/users/{ADMIN}")
    assert own.status_code == 200 and 'id="own-account"' in own.text
    data = {
        "role": "sysadmin",
        "department": "",
        "clearance": "top_secret",
        "reason": "r",
        "csrf_token": _csrf(own.text),
    }
    refused = client.post(f"/admin/users/{ADMIN}/standing", data=data)
    assert refused.status_code == 403
    assert "不得更改本人权限" in refused.text and "管理员账号在服务器控制台办理" in refused.text
    assert _user(portal, ADMIN).role == "security_admin"


@pytest.mark.parametrize("role", ["sysadmin", "security_auditor", "archivist"])
def test_other_roles_get_the_refusal_page_not_the_accounts(portal: Portal, role: str) -> None:
    client = signed_in(portal, role).client
    for path in ("/admin/users", "/admin/users/new", "/admin/users/archivist"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "archive-manager" not in answer.text
    home = client.get("/")
    assert 'href="/admin/users"' not in home.text


def test_two_administrators_creating_the_same_account_at_once_make_one(portal: Portal) -> None:
    """A race for one username: one 201, the other a refusal naming the field — never a 500 — and
    one account in the end."""
    with portal.wired.sessions() as session:  # a second one, made at the console as administrators are
        identities.create_user(
            session,
            username="zhao.lei",
            role="security_admin",
            actor="cli:root",
            now=datetime.now(UTC),
            password=PASSWORD,
            reason="第二名管理员",
        )
        session.commit()
    token = portal.client.post("/api/v1/token", data={"username": "zhao.lei", "password": PASSWORD}).json()
    headers = [portal.as_role("security_admin"), {"Authorization": f"Bearer {token['access_token']}"}]
    start = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def create(n: int) -> None:
        client = TestClient(portal.client.app, base_url="https://testserver")
        start.wait()
        answers[n] = client.post("/api/v1/users", json=SUPERVISOR, headers=headers[n])
        client.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 422], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 422)
    assert refused.json()["detail"].startswith("username:")
    with portal.wired.sessions() as session:
        assert len(list(session.scalars(select(User).where(User.username == "wang.fang")))) == 1


@pytest.mark.parametrize(
    ("username", "body"),
    [
        (None, {"username": "zhao.lei", "role": "security_admin", "password": PASSWORD}),  # a second one
        (None, {"username": "sun.lei", "role": "sysadmin", "password": PASSWORD}),
        (None, {"username": "wu.jing", "role": "security_auditor", "password": PASSWORD}),
        ("sysadmin", {"password": NEW_PASSWORD}),  # then sign in as the system administrator
        ("security-auditor", {"password": NEW_PASSWORD}),
        ("security-auditor", {"disabled": True}),
        ("security-admin", {"disabled": True}),  # oneself, or the last one: nobody left to administer
        ("archivist", {"role": "sysadmin"}),  # a colluding account made an administrator
        ("sysadmin", {"role": "archivist"}),
    ],
)
def test_the_administrators_accounts_are_made_and_changed_only_at_the_console(
    portal: Portal, username: str | None, body: dict[str, Any]
) -> None:
    """A security administrator who could make a second one, or reset a system administrator's or
    an auditor's password, could sign in as them and hold two of the three roles: refused, ledgered."""
    before = _head(portal)
    if username is None:
        answer = portal.client.post(
            "/api/v1/users", json=body | {"reason": "增设"}, headers=portal.as_role("security_admin")
        )
    else:
        answer = _patch(portal, username, body | {"reason": "调整"})
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"]["rule"] == "admin-account"
    denied = [e for e in _entries(portal, after=before) if e.outcome == "denied"]
    assert len(denied) == 1 and denied[0].actor == ADMIN
    if username is None:
        with portal.wired.sessions() as session:
            assert session.scalar(select(User).where(User.username == body["username"])) is None
    else:  # nothing changed: the same role, enabled, the old password and not the new one
        account = _user(portal, username)
        assert not account.disabled and account.role == username.replace("-", "_")
        assert (_token_status(portal, username), _token_status(portal, username, NEW_PASSWORD)) == (200, 401)


def test_an_administrators_account_page_offers_no_form_and_says_where_it_is_changed(portal: Portal) -> None:
    client = signed_in(portal, "security_admin").client
    for username in ("sysadmin", "security-auditor", ADMIN):
        shown = client.get(f"/admin/users/{username}")
        assert shown.status_code == 200 and 'id="at-console"' in shown.text
        assert "casevault users" in shown.text
        assert "/standing" not in shown.text and "/password" not in shown.text
    ordinary = client.get("/admin/users/archivist")
    assert 'id="at-console"' not in ordinary.text and "/admin/users/archivist/standing" in ordinary.text
