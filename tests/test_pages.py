"""The portal's pages: sign-in with CSRF, catalogue, case timeline, viewer, refusals, ledger, public."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from access import chain
from access.ledger import LedgerEntry
from access.models import Department, Role
from archive.sip import Activity, DocType, EnforcementType, Level, Stage
from portal.internal.identity.pages import LOGIN_CSRF_COOKIE
from portal.internal.ledger import operations as ledger_operations
from portal.web import charts as timeline
from portal.web import i18n
from portal.web.auth import SESSION_COOKIE
from portal.web.pages import safe_next
from tests.support.ledger import drop_ledger_triggers
from tests.support.portal import PASSWORD, Portal
from tests.support.web import CSRF_FIELD, login_token, session_csrf, sign_in, signed_in

pytestmark = [
    pytest.mark.store("file"),
]



# --- sign-in, sign-out, sessions ------------------------------------------------------------


def test_login_sets_a_hardened_session_cookie_and_redirects(portal: Portal) -> None:
    response = sign_in(portal, "archivist")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert "secure" in cookie.lower()
    assert portal.client.get("/", follow_redirects=False).status_code == 200


def test_login_form_sets_a_strict_pre_session_csrf_cookie(portal: Portal) -> None:
    page = portal.client.get("/login")
    cookie = next(c for c in page.headers.get_list("set-cookie") if c.startswith(LOGIN_CSRF_COOKIE))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert CSRF_FIELD.search(page.text).group(1) == portal.client.cookies.get(LOGIN_CSRF_COOKIE)  # type: ignore[union-attr]


def test_wrong_password_is_401_with_a_message_next_to_the_field(portal: Portal) -> None:
    response = sign_in(portal, "archivist", password="not the password at all")
    assert response.status_code == 401
    assert 'id="login-error"' in response.text and "用户名或密码不正确" in response.text
    assert 'aria-invalid="true"' in response.text
    assert SESSION_COOKIE not in portal.client.cookies


def test_applicants_cannot_sign_in_to_the_internal_portal(portal: Portal) -> None:
    assert sign_in(portal, "applicant").status_code == 401


@pytest.mark.parametrize("field", ["missing", "wrong", "no-cookie"])
def test_login_without_the_csrf_pair_is_403_and_starts_no_session(portal: Portal, field: str) -> None:
    token = login_token(portal)
    data = {"username": "archivist", "password": PASSWORD}
    if field == "wrong":
        data["csrf_token"] = token[:-2] + "xx"
    elif field == "no-cookie":
        data["csrf_token"] = token
        portal.client.cookies.delete(LOGIN_CSRF_COOKIE, path="/login")
    response = portal.client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert SESSION_COOKIE not in portal.client.cookies
    with portal.wired.sessions() as session:
        tried = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "auth.login")).all()
    assert tried == []  # the password was never even checked


def test_logout_needs_the_session_csrf_token(portal: Portal) -> None:
    signed_in(portal, "archivist")
    refused = portal.client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403 and "csrf" in refused.text
    assert portal.client.get("/", follow_redirects=False).status_code == 200  # still signed in
    token = session_csrf(portal)
    done = portal.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert portal.client.get("/", follow_redirects=False).status_code == 303


def _new_session_cookie(response) -> str:  # type: ignore[no-untyped-def]
    """The session cookie value a response sets."""
    header = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    return str(header.split(";", 1)[0].split("=", 1)[1])


def _sign_in_holding(portal: Portal, session_cookie: str):  # type: ignore[no-untyped-def]
    """Sign in as the archivist while the browser holds `session_cookie` from before."""
    portal.client.cookies.clear()
    token = login_token(portal)
    portal.client.cookies.set(SESSION_COOKIE, session_cookie)
    data = {"username": "archivist", "password": PASSWORD, "csrf_token": token}
    return portal.client.post("/login", data=data, follow_redirects=False)


def _status_with(portal: Portal, session_cookie: str) -> int:
    portal.client.cookies.clear()
    portal.client.cookies.set(SESSION_COOKIE, session_cookie)
    return portal.client.get("/", follow_redirects=False).status_code


def test_session_fixation_a_cookie_from_before_sign_in_never_survives_it(portal: Portal) -> None:
    first = _new_session_cookie(_sign_in_holding(portal, "planted-by-someone-else"))
    assert first != "planted-by-someone-else"
    assert _status_with(portal, first) == 200
    second = _new_session_cookie(_sign_in_holding(portal, first))  # a valid session from before
    assert second != first
    assert _status_with(portal, first) == 303  # the old value no longer authenticates
    assert _status_with(portal, second) == 200


def test_pages_send_anonymous_callers_to_sign_in_and_back(portal: Portal) -> None:
    path = f"/bundles/{portal.bundle_id}"
    response = portal.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fbundles%2F{portal.bundle_id}"
    assert sign_in(portal, "archivist", next_path=path).headers["location"] == path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/bundles/x", "/bundles/x"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_sign_in_only_goes_back_to_local_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


# --- catalogue, case, record ----------------------------------------------------------------


def test_catalogue_lists_the_demo_case_with_its_badge(portal: Portal) -> None:
    page = signed_in(portal, "archivist").client.get("/")
    assert page.status_code == 200
    assert "深民防罚〔2026〕12号" in page.text and f'href="/bundles/{portal.bundle_id}"' in page.text
    assert 'class="badge badge-personal_privacy"' in page.text and "个人隐私" in page.text


def test_catalogue_search_filters(portal: Portal) -> None:
    client = signed_in(portal, "archivist").client
    assert "深民防罚〔2026〕12号" in client.get("/", params={"q": "商场"}).text
    assert "深民防罚〔2026〕12号" not in client.get("/", params={"q": "没有这个案子"}).text


def test_case_page_draws_the_timeline(portal: Portal) -> None:
    page = signed_in(portal, "archivist").client.get(f"/bundles/{portal.bundle_id}")
    assert page.status_code == 200
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert svg.count('class="stage-band"') == 5
    for stage in ("立案", "调查取证", "审查决定", "送达执行", "归档"):
        assert f">{stage}</text>" in svg
    assert 'class="av-bar" data-record="v1"' in svg
    assert svg.count('class="text-mark"') == 8
    assert "style=" not in svg
    assert f'href="/bundles/{portal.bundle_id}/records/v1"' in svg
    assert "现场检查录像" in page.text  # in the record list and the accessible table
    assert "<summary>时间线数据表</summary>" in page.text


def test_case_page_shows_findings_of_an_incomplete_case(portal: Portal, make_case) -> None:  # type: ignore[no-untyped-def]
    from portal.cli.demo import case_document
    from portal.internal.archive import operations

    document = case_document("深民防罚〔2026〕99号")
    document["records"] = [r for r in document["records"] if r["id"] != "e1"]  # no service receipt
    footage = next(r for r in document["records"] if r["id"] == "v1")
    footage["av"]["interruptions"] = [
        {"at": "2026-03-04T09:20:00+08:00", "resumed_at": "2026-03-04T09:22:00+08:00", "reason": ""}
    ]
    bundle_id = operations.deposit(portal.wired, folder=make_case(document), actor="test")["bundle_id"]
    page = signed_in(portal, "archivist").client.get(f"/bundles/{bundle_id}")
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert 'class="interruption"' in svg and "未说明原因" in svg
    assert svg.count('class="finding"') == 2  # on v1 (art. 14) and on the service stage (art. 10)
    assert "第 10 条" in page.text and "缺少送达回证记录" in page.text  # the record type by its Chinese name
    assert "service_receipt" not in page.text[page.text.index('id="findings-h"') :]


def test_archivist_sees_the_video_under_a_watermark(portal: Portal) -> None:
    page = signed_in(portal, "archivist").client.get(f"/bundles/{portal.bundle_id}/records/v1")
    assert page.status_code == 200
    content = f"/api/v1/bundles/{portal.bundle_id}/records/v1/content"
    assert re.search(rf'<video controls preload="metadata" src="{re.escape(content)}"', page.text)
    watermark = page.text[page.text.index('class="watermark"') :]
    assert "archivist · 档案管理员 · " in watermark[:400]
    assert portal.client.get(content, headers={"Range": "bytes=0-99"}).status_code == 206  # by cookie


def test_pdf_records_open_inline(portal: Portal) -> None:
    page = signed_in(portal, "archivist").client.get(f"/bundles/{portal.bundle_id}/records/d2")
    assert f'<iframe src="/api/v1/bundles/{portal.bundle_id}/records/d2/content"' in page.text


def test_opening_a_record_page_is_ledgered(portal: Portal) -> None:
    signed_in(portal, "archivist").client.get(f"/bundles/{portal.bundle_id}/records/d2")
    with portal.wired.sessions() as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "record.view")).all()
    assert [(r.actor, r.outcome, r.record_id) for r in rows] == [("archivist", "allowed", "d2")]


def test_sysadmin_gets_a_refusal_page_naming_three_role_separation(portal: Portal) -> None:
    page = signed_in(portal, "sysadmin").client.get(f"/bundles/{portal.bundle_id}/records/v1")
    assert page.status_code == 403
    assert "text/html" in page.headers["content-type"]
    assert "三员分立" in page.text and "three-role-separation" in page.text
    assert "调取登记" in page.text and "档案负责人" in page.text
    assert "Traceback" not in page.text
    with portal.wired.sessions() as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "record.view")).all()
    assert [(r.actor, r.outcome) for r in rows] == [("sysadmin", "denied")]


def test_supervisor_without_a_grant_is_told_how_to_file_a_retrieval(portal: Portal) -> None:
    page = signed_in(portal, "supervisor").client.get(f"/bundles/{portal.bundle_id}/records/v1")
    assert page.status_code == 403
    assert "调取授权" in page.text and "调取登记" in page.text
    assert "现场检查录像" not in page.text  # no metadata of a record the caller may not see


def test_unknown_pages_render_html(portal: Portal) -> None:
    client = signed_in(portal, "archivist").client
    for path in ("/bundles/nope", f"/bundles/{portal.bundle_id}/records/nope"):
        response = client.get(path)
        assert response.status_code == 404 and "text/html" in response.headers["content-type"]
        assert "未找到" in response.text
    malformed = client.get("/ledger/not-a-number")
    assert malformed.status_code == 422 and "text/html" in malformed.headers["content-type"]


# --- language, headers, CSP -----------------------------------------------------------------


def test_english_switch_sets_a_cookie_and_sticks(portal: Portal) -> None:
    client = signed_in(portal, "archivist").client
    english = client.get(f"/bundles/{portal.bundle_id}", params={"lang": "en"})
    assert 'lang="en"' in english.text and ">Investigation</text>" in english.text
    assert "Case timeline" in english.text and "Personal privacy" in english.text
    assert any(c.startswith("lang=en") for c in english.headers.get_list("set-cookie"))
    assert "Case catalogue" in client.get("/").text
    assert "案卷目录" in client.get("/", params={"lang": "zh"}).text


def test_pages_carry_the_security_headers_and_nothing_inline(portal: Portal) -> None:
    client = signed_in(portal, "archivist").client
    for path in ("/", f"/bundles/{portal.bundle_id}", f"/bundles/{portal.bundle_id}/records/v1", "/public/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "SAMEORIGIN"
        assert "style=" not in response.text and "<style" not in response.text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) == []
        assert re.findall(r"\son[a-z]+=", response.text) == []  # no inline event handlers
    portal.client.cookies.clear()
    assert "default-src 'self'" in portal.client.get("/login").headers["content-security-policy"]


def test_static_files_are_served_to_both_apps(portal: Portal) -> None:
    assert portal.client.get("/static/app.css").status_code == 200
    assert portal.client.get("/static/app.js").status_code == 200
    assert portal.client.get("/public/static/app.css").status_code == 200


# --- ledger ---------------------------------------------------------------------------------


def test_ledger_page_for_the_auditor(portal: Portal) -> None:
    client = signed_in(portal, "security_auditor").client
    assert client.get("/", follow_redirects=False).headers["location"] == "/anomalies"
    page = client.get("/ledger")
    assert page.status_code == 200
    assert "尚无完整校验的记录" in page.text and "尚未签发检查点" in page.text
    assert 'action="/ledger/verify"' in page.text and 'class="activity"' in page.text
    assert page.text.count('class="day"') == 30
    assert "auth.session_start" in page.text
    filtered = client.get("/ledger", params={"actor": "archivist", "outcome": "failed"})
    assert filtered.status_code == 200 and "没有符合条件的记录" in filtered.text


def test_ledger_filters_by_date_and_refuses_bad_dates(portal: Portal) -> None:
    client = signed_in(portal, "security_auditor").client
    today = datetime.now(UTC).astimezone(i18n.CST).date()
    assert "auth.login" in client.get("/ledger", params={"since": today.isoformat()}).text
    old = (today - timedelta(days=400)).isoformat()
    assert "没有符合条件的记录" in client.get("/ledger", params={"until": old}).text
    bad = client.get("/ledger", params={"since": "03/04/2026"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text


def test_ledger_entry_page(portal: Portal) -> None:
    client = signed_in(portal, "security_auditor").client
    page = client.get("/ledger/1")
    assert page.status_code == 200 and "台账记录 #1" in page.text and "0" * 64 in page.text
    assert client.get("/ledger/999999").status_code == 404


def test_ledger_page_refuses_the_archivist(portal: Portal) -> None:
    page = signed_in(portal, "archivist").client.get("/ledger")
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    assert "角色权限" in page.text and "档案管理员无权“查阅台账”" in page.text  # the reason, in Chinese
    assert "may not" not in page.text


def _verifications(portal: Portal) -> list[LedgerEntry]:
    with portal.wired.sessions() as session:
        query = select(LedgerEntry).where(LedgerEntry.action == "ledger.verify").order_by(LedgerEntry.seq)
        return list(session.scalars(query))


def _no_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything walks the chain."""

    def walked(*args: object, **kwargs: object) -> None:
        pytest.fail("the hash chain was walked")

    monkeypatch.setattr(chain, "verify_chain", walked)


def test_ledger_page_shows_the_checkpoint_and_last_verification_without_walking(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = ledger_operations.checkpoint_ledger(portal.wired, force=True)
    assert made is not None
    verify = portal.client.get("/api/v1/ledger/verify", headers=portal.as_role("security_auditor"))
    assert set(verify.json()) == {  # the API's contract: these keys stay, new ones are added
        "intact",
        "entries",
        "first_bad_seq",
        "reason",
        "checkpoints",
        "first_bad_checkpoint",
        "checkpoint_reason",
        "signatures_checked",
        "locked_checkpoint",
        "missing_range",
        "cosignatures",
    }
    _no_walk(monkeypatch)
    client = signed_in(portal, "security_auditor").client
    page = client.get("/ledger")
    assert page.status_code == 200
    assert f"<dd>{made.tree_size}</dd>" in page.text and made.root_hash[:16] + "…" in page.text
    assert made.kid in page.text and made.root_hash not in page.text
    assert f"哈希链完整：共 {verify.json()['entries']} 条记录" in page.text
    assert "1 个签名检查点核对无误" in page.text and "由 security-auditor 发起" in page.text
    assert re.search(r"用时 \d+ (毫秒|\.\d+ 秒)", page.text)
    english = client.get("/ledger", params={"lang": "en", "actor": "nobody"})
    assert "Latest signed checkpoint" in english.text and "Hash chain intact" in english.text
    assert "Verify the whole chain now" in english.text
    assert len(_verifications(portal)) == 1  # pages loaded, nothing verified


def test_verify_now_needs_the_csrf_token_then_verifies_and_is_ledgered(portal: Portal) -> None:
    client = signed_in(portal, "security_auditor").client
    refused = client.post("/ledger/verify", data={}, follow_redirects=False)
    assert refused.status_code == 403 and "csrf" in refused.text
    assert _verifications(portal) == []
    done = client.post("/ledger/verify", data={"csrf_token": session_csrf(portal)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/ledger#verification"
    [entry] = _verifications(portal)
    assert (entry.actor, entry.outcome) == ("security-auditor", "ok")
    result = entry.detail["result"]
    assert result["intact"] is True and result["first_bad_seq"] is None and result["entries"] > 0
    assert isinstance(entry.detail["duration_ms"], int) and entry.detail["rule"] == "role"
    page = client.get("/ledger")
    assert f"哈希链完整：共 {result['entries']} 条记录" in page.text and f"#{entry.seq}" in page.text


def test_verify_now_is_refused_to_the_archivist(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    client = signed_in(portal, "archivist").client
    _no_walk(monkeypatch)
    refused = client.post("/ledger/verify", data={"csrf_token": session_csrf(portal)})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert "校验台账" in refused.text
    [entry] = _verifications(portal)
    assert (entry.actor, entry.outcome, entry.detail["rule"]) == ("archivist", "denied", "role")


def test_verify_now_names_the_first_bad_entry_of_a_tampered_chain(portal: Portal) -> None:
    client = signed_in(portal, "security_auditor").client
    token = session_csrf(portal)
    with portal.wired.engine.begin() as conn:  # an insider, around the append-only triggers
        drop_ledger_triggers(conn, "ledger_entries")
        conn.execute(text("UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 2"))
    page = client.post("/ledger/verify", data={"csrf_token": token})
    assert page.status_code == 200
    assert "哈希链被破坏：第 2 条起校验失败（content does not match its hash）" in page.text
    [entry] = _verifications(portal)
    assert entry.outcome == "failed"
    assert (entry.detail["result"]["intact"], entry.detail["result"]["first_bad_seq"]) == (False, 2)


# --- public portal --------------------------------------------------------------------------


def test_public_page_lists_the_recorded_activities(portal: Portal) -> None:
    page = portal.client.get("/public/")
    assert page.status_code == 200
    for name in ("现场检查", "随机抽查", "调查取证", "证据保全", "听证", "行政强制", "送达"):
        assert name in page.text
    assert "依申请公开" in page.text and 'name="viewport"' in page.text
    assert 'href="/public/static/app.css"' in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "Enforcement activities recorded on camera" in portal.client.get("/public/?lang=en").text


def test_public_app_alone_serves_under_public_without_the_archive_realm(portal: Portal) -> None:
    from fastapi.testclient import TestClient

    from portal.app import create_app

    app = create_app(portal.wired, kind="public")
    public = next(route.app for route in app.routes if getattr(route, "path", "") == "/public")
    assert not hasattr(public.state.wired, "store") and not hasattr(public.state.wired, "keyring")
    with TestClient(app) as client:
        assert client.get("/public/").status_code == 200
        assert client.get("/", follow_redirects=False).headers["location"] == "/public/"
        assert client.get("/api/v1/cases").status_code == 404


# --- the pictures and the catalogue, without the app ----------------------------------------


def _t(key: str, **fields: object) -> str:
    return i18n.translate("zh", key, **fields)


def test_timeline_cuts_a_gap_for_each_interruption() -> None:
    start = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    record = {
        "record_id": "v1",
        "title": "录像",
        "kind": "av",
        "stage": "investigation",
        "created_at": start.isoformat(),
        "av": {
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=40)).isoformat(),
            "interruptions": [
                {
                    "at": (start + timedelta(minutes=20)).isoformat(),
                    "resumed_at": (start + timedelta(minutes=22)).isoformat(),
                    "reason": "电量不足",
                }
            ],
        },
    }
    findings = [
        {"article": 14, "record_id": "v1", "message": "gap"},
        {"article": 7, "record_id": None, "message": "x"},
    ]
    picture = timeline.build("C1", [record], findings, href=lambda _: None, article=lambda n: f"art {n}")
    item = picture.items[0]
    scale = timeline.Scale(*picture.span)
    parts = timeline._segments(item, scale)
    assert len(parts) == 2 and parts[0][1] < parts[1][0]
    assert picture.stage_findings == {"initiation": ("art 7 x",)}
    drawing = timeline.timeline_drawing(picture, _t)
    (strip,) = drawing.strips
    assert len(strip.spans) == 2 and "电量不足" in strip.crosses[0].note
    assert [m.href for band in drawing.bands for m in band.marks] == [None]


def test_timeline_stacks_records_that_would_overlap() -> None:
    # Bars that start together cannot be set side by side: they stack in rows (text records that
    # share a time are spread instead, tests/test_timeline_spread.py).
    at = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    end = at + timedelta(minutes=30)
    items = [timeline.Item(f"r{n}", "t", "av", "decision", at, end) for n in range(3)]
    scale = timeline.Scale(at - timedelta(hours=1), at + timedelta(hours=1))
    assert timeline.rows_of(items, scale) == [0, 1, 2]


def test_ticks_are_round_and_few() -> None:
    start = datetime(2026, 3, 4, 0, 30, tzinfo=UTC)
    moments, fmt = timeline.ticks(start, start + timedelta(days=100))
    assert 3 <= len(moments) <= 8 and fmt == "%m-%d"
    assert all(m.astimezone(i18n.CST).hour == 0 for m in moments)
    moments, fmt = timeline.ticks(start, start + timedelta(hours=2))
    assert fmt == "%H:%M" and all(m.astimezone(i18n.CST).minute in (0, 15, 30, 45) for m in moments)


def test_activity_counts_by_china_day() -> None:
    late = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)  # 01:00 on 03-05 in China
    days = timeline.count_days(
        [(late, "allowed"), (late, "denied"), (late, "failed"), (late, "x")],
        last_day=date(2026, 3, 5),
        days=2,
    )
    assert days == [timeline.DayCount(date(2026, 3, 4)), timeline.DayCount(date(2026, 3, 5), 1, 2)]
    assert len(timeline.activity_drawing(days, _t).days) == 2


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("stage", Stage),
        ("doc_type", DocType),
        ("activity", Activity),
        ("enforcement", EnforcementType),
        ("classification", Level),
        ("role", Role),
        ("department", Department),
    ],
)
def test_every_enumeration_value_has_both_labels(kind: str, values: type) -> None:
    for value in values:  # type: ignore[attr-defined]
        for lang in i18n.LANGS:
            assert i18n.label(lang, kind, value.value) not in ("", value.value), (lang, kind, value.value)
