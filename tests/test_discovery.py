"""Supervisors find what they may ask for: the catalogue searched by case number, party or
closing date, case metadata only (never a record, never a title above their clearance), every
search in the ledger; every refusal page offers the retrieval request prefilled with the case; and
departments are said in Chinese on pages, in the register's CSV and in `casevault trace`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from access import discovery
from portal.cli.demo import case_document
from portal.internal.archive import operations
from tests.support.portal import Portal
from tests.support.retrieval import approved, entries, file_request
from tests.support.web import field_error, signed_in

pytestmark = [pytest.mark.store("file")]

CASE_NO = case_document()["case_no"]  # 深民防罚〔2026〕1号, closed 2026-06-30
TITLE = case_document()["title"]
RECORD_TITLES = [r["title"] for r in case_document()["records"]]
SECRET_NO = "深民防罚〔2026〕9号"
SECRET_TITLE = "某地下指挥所改建工程检查案"
SECRET_PARTY = "某保密工程建设单位"


def secret_case(portal: Portal, make_case: Callable[..., Path]) -> None:
    """A second case whose records are state secrets graded 秘密, with a party of its own."""
    document = case_document(SECRET_NO)
    document["title"] = SECRET_TITLE
    document["closed_at"] = "2026-05-20"
    document["parties"] = [{"name": SECRET_PARTY, "kind": "organization", "role": "party"}]
    for record in document["records"]:
        record["classification"] = {"level": "state_secret", "grade": "secret"}
    operations.deposit(portal.wired, folder=make_case(document), actor="test")


def found_rows(html: str) -> list[str]:
    """The case numbers in the search results table."""
    table = re.search(r'<table class="cases" id="found">(.*?)</table>', html, flags=re.S)
    if table is None:
        return []
    return re.findall(r'<td class="nowrap">([^<]*〔[^<]*)</td>', table.group(1))


def search(portal: Portal, **params: str) -> Any:
    """The catalogue page searched with those fields, as the signed-in supervisor."""
    return portal.client.get("/", params=params)


def api_search(portal: Portal, role: str = "supervisor", **params: str) -> Any:
    return portal.client.get("/api/v1/cases/search", params=params, headers=portal.as_role(role))


# --- finding a case --------------------------------------------------------------------------


def test_a_supervisor_finds_the_case_by_number_party_or_date(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    start = portal.client.get("/")
    assert start.status_code == 200 and 'id="case-search"' in start.text and "查找案件" in start.text
    assert found_rows(start.text) == []  # nothing searched yet, nothing listed, nothing ledgered
    assert entries(portal, "case.search") == []

    for params in (
        {"case_no": "2026〕1"},
        {"party": "商业管理"},
        {"from": "2026-06-01", "to": "2026-06-30"},
        {"case_no": "深民防罚", "party": "某商业", "from": "2026-06-30"},
    ):
        page = search(portal, **params)
        assert page.status_code == 200, params
        assert found_rows(page.text) == [CASE_NO], params
        assert TITLE in page.text and "2026-06-30" in page.text
        links = re.findall(r'class="button primary request-retrieval" href="([^"]+)">申请调取<', page.text)
        assert [unquote(link) for link in links] == [f"/retrievals/new?case_no={CASE_NO}"]
        assert not [t for t in RECORD_TITLES if t in page.text]  # case metadata only, never a record

    wildcards = ({"party": "%"}, {"party": "_"}, {"case_no": "%1%"})  # taken literally, never as patterns
    for params in (
        {"party": "无此当事人"},
        {"from": "2026-07-01"},
        {"case_no": "深民防罚〔2025〕"},
        *wildcards,
    ):
        page = search(portal, **params)
        assert page.status_code == 200 and found_rows(page.text) == [] and "没有符合条件的案件" in page.text

    answer = api_search(portal, party="某商业管理有限公司")
    assert answer.status_code == 200
    (case,) = answer.json()["cases"]
    assert case["case_no"] == CASE_NO and case["title"] == TITLE and case["granted"] is False
    assert case["closed_at"] == "2026-06-30" and "records" not in case


def test_a_granted_case_opens_from_the_results_and_is_listed_apart(portal: Portal) -> None:
    approved(portal)
    signed_in(portal, "supervisor")
    page = search(portal, case_no=CASE_NO)
    assert f'href="/bundles/{portal.bundle_id}">查看案卷' in page.text
    assert f'<a href="/bundles/{portal.bundle_id}">{CASE_NO}</a>' in page.text  # 已获授权调阅的案件


def test_titles_above_the_clearance_are_withheld_and_found_by_number_only(
    portal: Portal, make_case: Callable[..., Path]
) -> None:
    secret_case(portal, make_case)
    signed_in(portal, "supervisor")  # no state-secret clearance
    by_number = search(portal, case_no=SECRET_NO)
    assert found_rows(by_number.text) == [SECRET_NO]
    assert SECRET_TITLE not in by_number.text and "（密级内容已隐去）" in by_number.text
    assert not [t for t in RECORD_TITLES if t in by_number.text]
    # by its party or its title the case is not found: that would say what the case is about
    assert found_rows(search(portal, party=SECRET_PARTY).text) == []
    assert found_rows(search(portal, case_no=SECRET_TITLE[:6]).text) == []
    by_date = search(portal, **{"from": "2026-05-01", "to": "2026-05-31"})
    assert found_rows(by_date.text) == [SECRET_NO] and SECRET_TITLE not in by_date.text
    (case,) = api_search(portal, case_no=SECRET_NO).json()["cases"]
    assert case["title"] is None and case["withheld"] is True
    assert api_search(portal, party=SECRET_PARTY).json()["cases"] == []
    # the retrieval form offers none of its records either (clearance still applies there)
    form = portal.client.get("/retrievals/new", params={"case_no": SECRET_NO})
    assert form.status_code == 200 and not [t for t in RECORD_TITLES if t in form.text]


def test_every_search_is_ledgered_with_what_was_asked(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    search(portal, party="商业管理")
    search(portal, party="无此当事人", **{"from": "2026-01-01"})
    api_search(portal, case_no=CASE_NO)
    ledgered = entries(portal, "case.search")
    assert [(e.actor, e.outcome) for e in ledgered] == [("supervisor", "ok")] * 3
    assert [e.detail["criteria"] for e in ledgered] == [
        {"party": "商业管理"},
        {"party": "无此当事人", "from": "2026-01-01"},
        {"case_no": CASE_NO},
    ]
    assert [e.detail["results"] for e in ledgered] == [1, 0, 1]
    assert ledgered[0].detail["rule"] == "role"


def test_bad_searches_name_their_field_and_other_roles_are_refused(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    bad_date = search(portal, **{"from": "2026-13-01"})
    assert bad_date.status_code == 422 and "2026-13-01" in field_error(bad_date.text, "from")
    backwards = search(portal, **{"from": "2026-07-01", "to": "2026-06-01"})
    assert backwards.status_code == 422 and field_error(backwards.text, "to") == "结束日期早于开始日期。"
    blank = api_search(portal, case_no="  ")
    assert blank.status_code == 422 and blank.json()["detail"].startswith("case_no: ")
    assert api_search(portal, **{"from": "someday"}).status_code == 422
    assert entries(portal, "case.search") == []  # nothing was searched

    for role in ("security_admin", "sysadmin"):
        refused = api_search(portal, role=role, case_no=CASE_NO)
        assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "role"
    denied = entries(portal, "case.search")
    assert [(e.actor, e.outcome) for e in denied] == [("security-admin", "denied"), ("sysadmin", "denied")]


# --- refusal pages ask for a retrieval -----------------------------------------------------


def test_refusal_pages_offer_the_retrieval_request_prefilled_with_the_case(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    for path, prefill in (
        (f"/bundles/{portal.bundle_id}", f"bundle_id={portal.bundle_id}"),
        (f"/bundles/{portal.bundle_id}/records/v1", f"bundle_id={portal.bundle_id}&amp;record_id=v1"),
    ):
        refused = portal.client.get(path)
        assert refused.status_code == 403, path
        link = re.search(
            r'<a class="button primary" id="request-retrieval" href="([^"]+)">申请调取</a>', refused.text
        )
        assert link and link.group(1) == f"/retrievals/new?{prefill}", path
        form = portal.client.get(link.group(1).replace("&amp;", "&"))
        assert form.status_code == 200 and f'value="{CASE_NO}"' in form.text
    # the form also takes the case number alone, as the search results link it
    by_number = portal.client.get("/retrievals/new", params={"case_no": CASE_NO})
    assert f'value="{CASE_NO}"' in by_number.text and "现场检查录像" in by_number.text


def test_roles_that_never_file_a_retrieval_get_no_link(portal: Portal) -> None:
    signed_in(portal, "security_admin")
    refused = portal.client.get(f"/bundles/{portal.bundle_id}")
    assert refused.status_code == 403 and 'id="request-retrieval"' not in refused.text


# --- departments in Chinese ------------------------------------------------------------------


def _visible(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_department_is_said_in_chinese_on_pages_in_the_csv_and_in_trace(
    portal: Portal, cli: Any, tmp_path: Path
) -> None:
    request_id = approved(portal, actions=["view", "download"], record_ids=["d1"])
    signed_in(portal, "supervisor")
    for path in ("/", "/retrievals/new", f"/retrievals/{request_id}"):
        text = _visible(portal.client.get(path).text)
        assert "法制" in text and not re.search(r"\blegal\b", text), path
    portal.client.cookies.clear()
    signed_in(portal, "archive_manager")
    for path in ("/register", f"/retrievals/{request_id}", "/register/print"):
        text = _visible(portal.client.get(path).text)
        assert "法制" in text and not re.search(r"\blegal\b", text), path
    assert file_request(portal).status_code == 201  # a pending request: its notice names the department
    assert "法制" in _visible(portal.client.get("/notifications").text)
    exported = portal.client.get("/api/v1/retrievals.csv", headers=portal.as_role("archive_manager"))
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {row["department 部门"] for row in rows} == {"法制"}

    copy = portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}/records/d1/copy", headers=portal.as_role("supervisor")
    )
    assert copy.status_code == 200
    leaked = tmp_path / "leaked.pdf"
    leaked.write_bytes(copy.content)
    traced = cli("trace", leaked)
    assert traced.exit_code == 0 and "department   法制" in traced.output and "legal" not in traced.output


def test_the_search_page_speaks_english_on_request(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    page = portal.client.get("/", params={"lang": "en", "party": "商业管理"})
    text = _visible(page.text).replace(CASE_NO, "").replace(TITLE, "").replace("商业管理", "")
    assert "Find a case" in text and "Request a retrieval" in text and "1 case(s) found" in text
    assert "Legal affairs" in text
    # Chinese is left only in the office's name and the language switch
    assert set(re.findall(r"[\u4e00-\u9fff]+", text)) <= {"深圳市民防委员会办公室", "中文"}


def test_a_secret_case_of_the_same_party_never_shifts_what_a_search_by_party_shows(
    portal: Portal, make_case: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search by party leaves out the cases above the clearance before the limit, not after:
    else a secret case of that party, closed later, would push a visible one off the list and
    the shorter list would say the secret case has that party."""
    document = case_document(SECRET_NO)
    document["title"] = SECRET_TITLE
    document["closed_at"] = "2026-07-10"  # newer than the visible case: first before the limit
    document["parties"] = [{"name": "某商业管理有限公司", "kind": "organization", "role": "party"}]
    for item in document["records"]:
        item["classification"] = {"level": "state_secret", "grade": "secret"}
    operations.deposit(portal.wired, folder=make_case(document), actor="test")
    monkeypatch.setattr(discovery, "MAX_RESULTS", 1)
    signed_in(portal, "supervisor")  # no state-secret clearance
    assert found_rows(search(portal, party="商业管理").text) == [CASE_NO]
    assert [c["case_no"] for c in api_search(portal, party="商业管理").json()["cases"]] == [CASE_NO]
