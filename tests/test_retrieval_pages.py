"""Registered-retrieval pages: the request form, decisions, the register, notices, copies."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.cli.demo import case_document
from tests.support.portal import Portal
from tests.support.retrieval import BASIS, PURPOSE, decide, file_request, rendition_ready
from tests.support.web import badge, field_error, session_csrf, signed_in

pytestmark = [
    pytest.mark.store("file"),
]

CASE_NO = case_document()["case_no"]


def form(**overrides: Any) -> dict[str, Any]:
    """A complete request form."""
    return {
        "case_no": CASE_NO,
        "record_ids": ["v1"],
        "purpose": PURPOSE,
        "legal_basis": BASIS,
        "actions": ["view", "download"],
        "days": "7",
    } | overrides


def post_form(portal: Portal, path: str, data: dict[str, Any], *, csrf: bool = True) -> Any:
    """POST a page form with the session's CSRF token, not following the redirect."""
    if csrf:
        data = {"csrf_token": session_csrf(portal)} | data
    return portal.client.post(path, data=data, follow_redirects=False)


def file_by_form(portal: Portal, **overrides: Any) -> int:
    """File a request through the form; the new request's id."""
    answer = post_form(portal, "/retrievals/new", form(**overrides))
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/retrievals/(\d+)", answer.headers["location"])
    assert found
    return int(found.group(1))


# --- the request form ------------------------------------------------------------------------


def test_refusal_page_links_to_the_request_form(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    refused = portal.client.get(f"/bundles/{portal.bundle_id}/records/v1")
    assert refused.status_code == 403
    link = f"/retrievals/new?bundle_id={portal.bundle_id}&amp;record_id=v1"
    assert link in refused.text and "申请调取" in refused.text


def test_the_services_refusals_are_said_in_the_page_language(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    answer = post_form(portal, "/retrievals/new", form(record_ids=["nope"]))
    assert field_error(answer.text, "record_ids") == f"案卷 {CASE_NO} 中没有记录 nope。"
    portal.client.get("/retrievals/new?lang=en")
    answer = post_form(portal, "/retrievals/new", form(purpose="x" * 2001))
    assert field_error(answer.text, "purpose") == "At most 2000 characters."


def test_an_unknown_request_is_said_in_words_beside_the_services_detail(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    page = portal.client.get("/retrievals/99999")
    assert page.status_code == 404
    assert '<p id="error-said">没有编号为 99999 的调取申请。</p>' in page.text
    assert "no retrieval request" not in page.text  # the service's English stays off a Chinese page
    english = portal.client.get("/retrievals/99999?lang=en")
    assert "<code>request: no retrieval request 99999</code>" in english.text


def test_form_lists_the_case_records_and_shows_the_department(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    page = portal.client.get(f"/retrievals/new?bundle_id={portal.bundle_id}&record_id=v1")
    assert page.status_code == 200
    assert f'value="{CASE_NO}"' in page.text
    assert re.search(r'name="record_ids" value="v1" checked', page.text)
    assert re.search(r'name="record_ids" value="d1">', page.text)
    assert "现场检查录像" in page.text  # titles are metadata
    assert 'id="department">法制<' in page.text
    assert 'name="department"' not in page.text  # shown, never editable


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"days": "0"}, "days"),
        ({"days": "91"}, "days"),
        ({"days": "seven"}, "days"),
        ({"purpose": "  "}, "purpose"),
        ({"legal_basis": ""}, "legal_basis"),
        ({"case_no": "深民防罚〔1999〕1号"}, "case_no"),
        ({"record_ids": ["nope"]}, "record_ids"),
        ({"purpose": "x" * 2001}, "purpose"),
    ],
)
def test_form_validation_names_the_field(portal: Portal, overrides: dict[str, Any], field: str) -> None:
    signed_in(portal, "supervisor")
    answer = post_form(portal, "/retrievals/new", form(**overrides))
    assert answer.status_code == 422
    assert field_error(answer.text, field)
    assert f'name="{field}"' in answer.text or field == "record_ids"
    assert portal.client.get("/api/v1/retrievals/mine").json()["count"] == 0


def test_filing_through_the_form(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    request_id = file_by_form(portal)
    page = portal.client.get(f"/retrievals/{request_id}")
    assert page.status_code == 200
    assert "待审批" in page.text and PURPOSE in page.text and BASIS in page.text
    mine = portal.client.get("/api/v1/retrievals/mine").json()["requests"][0]
    assert mine["record_ids"] == ["v1"] and mine["actions"] == ["view", "download"] and mine["days"] == 7
    assert mine["department"] == "legal"
    listed = portal.client.get("/retrievals/mine")
    assert f'href="/retrievals/{request_id}"' in listed.text


def test_roles_without_retrieval_see_a_refusal(portal: Portal) -> None:
    signed_in(portal, "sysadmin")
    assert portal.client.get("/retrievals/new").status_code == 403


def test_missing_csrf_is_403(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    assert post_form(portal, "/retrievals/new", form(), csrf=False).status_code == 403
    wrong = form() | {"csrf_token": "wrong"}
    assert post_form(portal, "/retrievals/new", wrong, csrf=False).status_code == 403
    assert portal.client.get("/api/v1/retrievals/mine").json()["count"] == 0


# --- decisions -------------------------------------------------------------------------------


def test_manager_approves_through_the_form(portal: Portal) -> None:
    request_id = file_request(portal, record_ids=["v1"]).json()["id"]
    signed_in(portal, "archive_manager")
    queue = portal.client.get("/retrievals/pending")
    assert queue.status_code == 200 and f'href="/retrievals/{request_id}"' in queue.text
    detail = portal.client.get(f"/retrievals/{request_id}")
    assert 'id="approve"' in detail.text and 'id="refuse"' in detail.text
    refused = post_form(portal, f"/retrievals/{request_id}/decision", {"decision": "refuse", "reason": ""})
    assert refused.status_code == 422 and field_error(refused.text, "reason")
    answer = post_form(
        portal, f"/retrievals/{request_id}/decision", {"decision": "approve", "reason": "同意，限七日"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/retrievals/{request_id}"
    after = portal.client.get(f"/retrievals/{request_id}")
    assert "已批准" in after.text and "同意，限七日" in after.text and 'id="revoke"' in after.text
    assert 'id="approve"' not in after.text
    assert post_form(portal, f"/retrievals/{request_id}/revoke", {"reason": ""}).status_code == 422
    revoked = post_form(portal, f"/retrievals/{request_id}/revoke", {"reason": "复核结束"})
    assert revoked.status_code == 303
    assert "已撤销授权" in portal.client.get(f"/retrievals/{request_id}").text


def test_own_request_shows_no_approve_button_and_the_server_refuses(portal: Portal) -> None:
    signed_in(portal, "archive_manager")
    request_id = file_by_form(portal)
    detail = portal.client.get(f"/retrievals/{request_id}")
    assert detail.status_code == 200
    assert 'id="approve"' not in detail.text and "不得自行审批" in detail.text
    data = {"decision": "approve", "reason": "自批"}
    answer = post_form(portal, f"/retrievals/{request_id}/decision", data)
    assert answer.status_code == 403 and "own-request" in answer.text
    assert portal.client.get("/api/v1/retrievals/mine").json()["requests"][0]["status"] == "pending"


def test_supervisor_cannot_reach_the_queue_or_the_register(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    assert portal.client.get("/retrievals/pending").status_code == 403
    assert portal.client.get("/register").status_code == 403


# --- the register ----------------------------------------------------------------------------


def _two_requests(portal: Portal) -> tuple[int, int]:
    first = file_request(portal, record_ids=["v1"], purpose="甲事由").json()["id"]
    second = file_request(portal, record_ids=["d1"], purpose="乙事由").json()["id"]
    assert decide(portal, first, reason="同意").status_code == 200
    return first, second


def test_register_filters(portal: Portal) -> None:
    first, second = _two_requests(portal)
    signed_in(portal, "archive_manager")
    everything = portal.client.get("/register")
    assert everything.status_code == 200
    assert "甲事由" in everything.text and "乙事由" in everything.text
    pending = portal.client.get("/register?status=pending")
    assert "乙事由" in pending.text and "甲事由" not in pending.text
    assert "甲事由" in portal.client.get("/register?status=approved&department=legal").text
    assert "甲事由" not in portal.client.get("/register?department=petition").text
    assert "乙事由" in portal.client.get("/register?requester=supervisor").text
    assert "乙事由" not in portal.client.get("/register?requester=archivist").text
    assert "乙事由" in portal.client.get("/register", params={"case_no": CASE_NO}).text
    assert "乙事由" not in portal.client.get("/register?from=2999-01-01").text
    assert "乙事由" in portal.client.get("/register?from=2020-01-01&to=2999-12-31").text
    bad = portal.client.get("/register?from=yesterday")
    assert bad.status_code == 422 and field_error(bad.text, "from")
    for request_id in (first, second):
        assert f'href="/retrievals/{request_id}"' in everything.text


def test_register_shows_accesses_under_a_grant(portal: Portal) -> None:
    _two_requests(portal)
    assert (
        portal.client.get(
            f"/api/v1/bundles/{portal.bundle_id}/records/v1/content", headers=portal.as_role("supervisor")
        ).status_code
        == 202  # allowed, and ledgered while the watermarked rendition is prepared
    )
    signed_in(portal, "archive_manager")
    page = portal.client.get("/register")
    assert "<details" in page.text and "调阅 1 次" in page.text and "record.view" in page.text


def test_csv_link_keeps_the_filters_and_works_with_the_cookie(portal: Portal) -> None:
    _two_requests(portal)
    signed_in(portal, "archive_manager")
    page = portal.client.get("/register?status=pending&from=2020-01-01")
    link = re.search(r'href="(/api/v1/retrievals\.csv[^"]*)" id="csv-link"', page.text)
    assert link
    url = link.group(1).replace("&amp;", "&")
    assert "status=pending" in url and "from=2020-01-01" in url
    exported = portal.client.get(url)  # the session cookie, no bearer token
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    text = exported.content.decode("utf-8-sig")
    assert "乙事由" in text and "甲事由" not in text


def test_print_view_has_no_navigation(portal: Portal) -> None:
    _two_requests(portal)
    signed_in(portal, "archive_manager")
    printed = portal.client.get("/register/print?status=approved")
    assert printed.status_code == 200
    assert 'class="print-page"' in printed.text and "<nav" not in printed.text
    assert "甲事由" in printed.text and "乙事由" not in printed.text
    assert "size: A4 landscape" in portal.client.get("/static/app.css").text
    assert "/register/print" in portal.client.get("/register").text


# --- notifications ---------------------------------------------------------------------------


def test_notification_badge_counts_and_lists(portal: Portal) -> None:
    _two_requests(portal)  # one pending, one decided
    signed_in(portal, "archive_manager")
    assert badge(portal.client.get("/").text) == 1
    listed = portal.client.get("/notifications")
    assert listed.status_code == 200 and "待审批" in listed.text
    portal.client.cookies.clear()
    signed_in(portal, "supervisor")
    assert badge(portal.client.get("/retrievals/mine").text) == 1  # the decision on the first
    assert "已批准" in portal.client.get("/notifications").text
    portal.client.cookies.clear()
    signed_in(portal, "archivist")
    assert badge(portal.client.get("/").text) == 0


# --- the watermarked copy --------------------------------------------------------------------


def test_record_page_offers_a_copy_only_under_a_download_grant(portal: Portal) -> None:
    request_id = file_request(portal, record_ids=["d1"], actions=["view"]).json()["id"]
    assert decide(portal, request_id, reason="同意").status_code == 200
    signed_in(portal, "supervisor")
    viewed = portal.client.get(f"/bundles/{portal.bundle_id}/records/d1")
    assert viewed.status_code == 200 and 'id="copy-start"' not in viewed.text
    assert '<meta name="csrf-token"' in viewed.text


def test_copy_without_script_returns_the_file(portal: Portal) -> None:
    request_id = file_request(portal, record_ids=["d1"], actions=["view", "download"]).json()["id"]
    assert decide(portal, request_id, reason="同意").status_code == 200
    signed_in(portal, "supervisor")
    viewed = portal.client.get(f"/bundles/{portal.bundle_id}/records/d1")
    assert 'id="copy-start"' in viewed.text and "copy.js" in viewed.text
    data = {"bundle_id": portal.bundle_id, "record_id": "d1"}
    assert post_form(portal, "/copies", data, csrf=False).status_code == 403
    answer = post_form(portal, "/copies", data)
    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(b"%PDF") and answer.headers["x-casevault-fingerprint"]
    refused = post_form(portal, "/copies", {"bundle_id": portal.bundle_id, "record_id": "d2"})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]


def test_record_page_makes_the_supervisor_wait_for_watermarked_footage(portal: Portal) -> None:
    request_id = file_request(portal, record_ids=["v1"], actions=["view"]).json()["id"]
    assert decide(portal, request_id, reason="同意").status_code == 200
    signed_in(portal, "supervisor")
    content = f"/api/v1/bundles/{portal.bundle_id}/records/v1/content"
    waiting = portal.client.get(f"/bundles/{portal.bundle_id}/records/v1")
    assert waiting.status_code == 200 and "正在为您制作带水印的查阅录像" in waiting.text
    assert '<meta http-equiv="refresh"' in waiting.text and "<video" not in waiting.text
    reported = portal.client.get(content)  # the page started it; the API reports on it
    if reported.status_code != 200:  # a two-second clip may already be marked by now
        rendition_ready(portal, reported)
    shown = portal.client.get(f"/bundles/{portal.bundle_id}/records/v1")
    assert f'src="{content}"' in shown.text and "http-equiv" not in shown.text
