"""Disclosure-handling pages (依申请公开办理): the queue and its deadline picture, the steps on one
request, the six reply types, the reply letter, the holiday table, and who may see any of it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from access import workdays
from access.disclosure import applicant_side
from access.disclosure.models import DisclosureRequest, ReleasedItem
from access.ledger import LedgerEntry
from access.models import Role, User
from access.policy import Context
from archive.store import read_bytes
from portal.cli.demo import case_document, pdf_bytes
from portal.internal.archive import operations
from portal.web.auth import subject_of
from portal.web.i18n import CST
from tests.support.disclosure_pages import (
    ID_NUMBER,
    MONDAY,
    as_role,
    at,
    file_request,
    post,
    reply,
    take,
)
from tests.support.portal import Portal
from tests.support.web import badge, field_error

pytestmark = pytest.mark.store("file")

SECRET_CASE = "深民防罚〔2026〕13号"
MID_DECEMBER = datetime(2026, 12, 14, 9, 0, tzinfo=CST)  # 20 working days reach into 2027
TABLE_2027 = "2027-01-01 off 元旦\n2027-02-06 work 春节调休  # a Saturday\n"
OVERDUE_RED = 'fill="#b3261e"'


# --- helpers ---------------------------------------------------------------------------------


def correct(portal: Portal, request_id: int, *, username: str = "zhangsan") -> None:
    """The applicant answers the correction notice (补正) through the service."""
    wired = portal.wired
    with wired.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        applicant_side.answer_correction(
            session,
            subject=subject_of(user),
            context=Context(now=wired.clock()),
            calendar=workdays.load_calendar(session),
            request_id=request_id,
            correction="已补充身份证明",
        )
        session.commit()


def due_on(portal: Portal, request_id: int) -> date:
    """The reply deadline as the request's page shows it."""
    page = portal.client.get(f"/disclosures/{request_id}")
    found = re.search(r'id="due-on"><span class="nowrap">(\d{4}-\d{2}-\d{2})<', page.text)
    assert found, "no deadline on the page"
    return date.fromisoformat(found.group(1))


def picture(html: str) -> str:
    """The deadline picture's SVG markup."""
    found = re.search(r'<svg[^>]*class="deadlines".*?</svg>', html, re.S)
    assert found, "no deadline picture"
    return found.group(0)


def bar(svg: str, request_id: int) -> str:
    """One request's group in the picture."""
    found = re.search(rf'<g class="request band-(\w+)" data-request="{request_id}">.*?</g></g>', svg, re.S)
    assert found, f"no bar for request {request_id}"
    return found.group(0)


def ledger(portal: Portal, action: str) -> list[LedgerEntry]:
    with portal.wired.sessions() as session:
        return list(session.scalars(select(LedgerEntry).where(LedgerEntry.action == action)))


def stored(portal: Portal, request_id: int) -> DisclosureRequest:
    with portal.wired.sessions() as session:
        query = select(DisclosureRequest).where(DisclosureRequest.id == request_id)
        row = session.scalar(query.options(selectinload(DisclosureRequest.items)))
        assert row is not None
        return row


def working_days_after(start: date, days: int) -> date:
    """The official calendar's answer, for checking the pages' dates."""
    return workdays.add_working_days(workdays.WorkCalendar(), start, days).due_on


# --- the queue and the picture ---------------------------------------------------------------


def test_queue_shows_open_requests_with_masked_ids_and_a_bar_each(portal: Portal) -> None:
    at(portal, MONDAY)
    first, second = file_request(portal), file_request(portal, description="请公开现场检查录像")
    as_role(portal, "disclosure_officer")
    queue = portal.client.get("/disclosures")
    assert queue.status_code == 200
    codes = [stored(portal, first).tracking_code, stored(portal, second).tracking_code]
    for code in codes:
        assert code in queue.text
    assert "110************02X" in queue.text and ID_NUMBER not in queue.text
    assert "张三" in queue.text and "未分办" in queue.text and "办理中" in queue.text
    due = working_days_after(MONDAY.date(), 20).isoformat()
    assert due in queue.text and "剩 20 个工作日" in queue.text
    svg = picture(queue.text)
    assert len(re.findall(r'<g class="request band-', svg)) == 2
    assert 'band-ample"' in bar(svg, first) and 'band-overdue"' not in svg.split('class="legend"')[0]
    assert '<title id="deadlines-title">答复期限看板</title>' in svg and '<desc id="deadlines-desc">' in svg
    assert f'href="/disclosures/{first}"' in svg
    assert 'id="estimated-warning"' not in queue.text
    assert 'href="/disclosures"' in queue.text and "公开申请" in queue.text  # the navigation link
    english = portal.client.get("/disclosures?lang=en")
    assert "Disclosure requests" in english.text and "Reply deadlines" in picture(english.text)


def test_dashboard_turns_red_when_the_deadline_passes(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "archive_manager")
    board = portal.client.get("/disclosures/dashboard")
    assert board.status_code == 200
    assert "期限数据表" in board.text and f'data-request="{request_id}"' in board.text
    assert OVERDUE_RED not in bar(picture(board.text), request_id)
    at(portal, MONDAY + timedelta(days=40))
    as_role(portal, "archive_manager")
    late = portal.client.get("/disclosures/dashboard")
    red = bar(picture(late.text), request_id)
    assert 'band-overdue"' in red and OVERDUE_RED in red and "已超期" in red
    queue = portal.client.get("/disclosures")
    assert re.search(rf'<tr class="overdue" data-request="{request_id}">', queue.text)
    assert 'class="overdue-tag">已超期<' in queue.text
    closed = portal.client.get("/disclosures?show=closed")
    assert "没有已办结的申请" in closed.text


def test_estimated_deadline_warns_until_sysadmin_enters_the_year(portal: Portal) -> None:
    at(portal, MID_DECEMBER)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    queue = portal.client.get("/disclosures")
    assert 'id="estimated-warning"' in queue.text and "2027 年的国务院节假日安排尚未录入" in queue.text
    assert 'href="/calendar"' not in queue.text  # officers are told to ask; only sysadmins get the link
    assert due_on(portal, request_id) == date(2027, 1, 11)  # Monday–Friday through New Year's Day
    assert "≈ 估算" in portal.client.get(f"/disclosures/{request_id}").text
    assert portal.client.get("/calendar").status_code == 403

    as_role(portal, "sysadmin")
    assert portal.client.get("/disclosures").status_code == 403
    calendar = portal.client.get("/calendar")
    assert calendar.status_code == 200 and 'href="/calendar"' in calendar.text  # the navigation link
    sources = dict(re.findall(r'<tr data-year="(\d+)">.*?class="source source-(\w+)"', calendar.text, re.S))
    assert sources == {"2026": "official", "2027": "weekdays", "2028": "weekdays"}
    assert 'action="/calendar/2026"' not in calendar.text
    bad = post(portal, "/calendar/2027", {"table": "2027-01-01 off 元旦\n2027-01-02 休 周六"})
    assert bad.status_code == 422
    message = field_error(bad.text, "table-2027")
    assert message == "第 2 行：2027-01-02 是周末，本来就休息。"
    assert "2027-01-02 休 周六" in bad.text  # the text comes back to be fixed
    assert post(portal, "/calendar/2027", {"table": "  "}).status_code == 422
    assert post(portal, "/calendar/2026", {"table": TABLE_2027}).status_code == 422
    assert post(portal, "/calendar/2027", {"table": TABLE_2027}, csrf=False).status_code == 403
    saved = post(portal, "/calendar/2027", {"table": TABLE_2027})
    assert saved.status_code == 303 and saved.headers["location"] == "/calendar"
    entries = [e for e in ledger(portal, "calendar.enter") if e.detail["year"] == 2027]
    assert len(entries) == 1 and entries[0].actor == "sysadmin" and entries[0].detail["days"] == 2
    after = portal.client.get("/calendar")
    assert re.search(r'<tr data-year="2027">.*?source-entered', after.text, re.S)
    assert "春节调休" in after.text

    as_role(portal, "disclosure_officer")
    assert 'id="estimated-warning"' not in portal.client.get("/disclosures").text
    assert due_on(portal, request_id) == date(2027, 1, 12)  # New Year's Day is off now


def test_roles_outside_disclosure_get_the_refusal_page(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    for role in ("supervisor", "security_auditor", "archivist"):
        as_role(portal, role)
        for path in ("/disclosures", "/disclosures/dashboard", f"/disclosures/{request_id}"):
            refused = portal.client.get(path)
            assert refused.status_code == 403, (role, path)
            assert "无法查阅" in refused.text and "<code>role</code>" in refused.text
        assert 'href="/disclosures"' not in refused.text
    denied = [e for e in ledger(portal, "disclosure.queue") if e.outcome == "denied"]
    assert {e.actor for e in denied} == {"supervisor", "security-auditor", "archivist"}


def test_unknown_request_is_404_and_missing_csrf_is_403(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    assert portal.client.get("/disclosures/999999").status_code == 404
    forged = post(portal, f"/disclosures/{request_id}/assign", {"officer": "disclosure-officer"}, csrf=False)
    assert forged.status_code == 403 and "csrf" in forged.text
    wrong = {"officer": "disclosure-officer", "csrf_token": "wrong"}
    assert post(portal, f"/disclosures/{request_id}/assign", wrong, csrf=False).status_code == 403
    assert stored(portal, request_id).assignee_id is None


# --- steps on one request --------------------------------------------------------------------


def test_officer_takes_it_and_sends_the_one_correction_notice(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    page = portal.client.get(f"/disclosures/{request_id}")
    assert 'id="take"' in page.text and 'id="send-correction"' not in page.text
    assert "110************02X" in page.text and ID_NUMBER not in page.text
    notice_by = working_days_after(MONDAY.date(), 7).isoformat()
    assert notice_by in page.text
    take(portal, request_id)
    page = portal.client.get(f"/disclosures/{request_id}")
    assert 'id="assignee">disclosure-officer<' in page.text and 'id="take"' not in page.text
    assert 'id="send-correction"' in page.text
    short = post(portal, f"/disclosures/{request_id}/correction", {"what": "身份证明", "within_days": "3"})
    assert short.status_code == 422 and "5 至 30" in field_error(short.text, "within_days")
    empty = post(portal, f"/disclosures/{request_id}/correction", {"what": " ", "within_days": "10"})
    assert empty.status_code == 422 and field_error(empty.text, "what") == "此项必填。"
    sent = post(
        portal, f"/disclosures/{request_id}/correction", {"what": "请补充身份证明", "within_days": "10"}
    )
    assert sent.status_code == 303
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "待补正" in page.text and "请补充身份证明" in page.text and 'id="correction-sent"' in page.text
    assert working_days_after(MONDAY.date(), 10).isoformat() in page.text  # correct_by
    assert 'band-waiting"' in bar(picture(portal.client.get("/disclosures").text), request_id)
    again = post(portal, f"/disclosures/{request_id}/correction", {"what": "再补充", "within_days": "10"})
    assert again.status_code == 409 and field_error(again.text, "correction-form").startswith("无法办理")

    correct(portal, request_id)
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "已补充身份证明" in page.text and "办理中" in page.text
    third = post(portal, f"/disclosures/{request_id}/correction", {"what": "再补充", "within_days": "10"})
    assert third.status_code == 409
    assert field_error(third.text, "correction-form") == "无法办理：每件申请只能告知补正一次（第三十条）。"
    assert stored(portal, request_id).correction_asked == "请补充身份证明"


def test_no_correction_in_time_withdraws_the_request(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    sent = post(
        portal, f"/disclosures/{request_id}/correction", {"what": "请补充身份证明", "within_days": "5"}
    )
    assert sent.status_code == 303
    at(portal, MONDAY + timedelta(days=14))
    as_role(portal, "disclosure_officer")
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "视为放弃申请" in page.text and 'id="send-decision"' not in page.text
    assert stored(portal, request_id).status == "withdrawn"
    assert f'data-request="{request_id}"' in portal.client.get("/disclosures?show=closed").text
    assert f'data-request="{request_id}"' not in portal.client.get("/disclosures").text


def test_correction_notice_after_seven_working_days_is_refused(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    at(portal, MONDAY + timedelta(days=14))
    as_role(portal, "disclosure_officer")
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "告知补正的期限" in page.text
    late = post(portal, f"/disclosures/{request_id}/correction", {"what": "请补充", "within_days": "10"})
    assert late.status_code == 409 and "（7 个工作日内）" in field_error(late.text, "correction-form")
    portal.client.get(f"/disclosures/{request_id}?lang=en")
    late = post(portal, f"/disclosures/{request_id}/correction", {"what": "请补充", "within_days": "10"})
    assert "(7 working days)" in field_error(late.text, "correction-form")
    portal.client.get(f"/disclosures/{request_id}?lang=zh")
    assert stored(portal, request_id).status == "received"


def test_consultation_stops_the_clock_and_its_end_moves_the_due_date_back(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    first = due_on(portal, request_id)
    assert post(portal, f"/disclosures/{request_id}/consultation", {"party": " "}).status_code == 422
    started = post(portal, f"/disclosures/{request_id}/consultation", {"party": "某商业管理有限公司"})
    assert started.status_code == 303
    paused = due_on(portal, request_id)
    assert paused > first
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "征求第三方意见" in page.text and 'id="end-consultation"' in page.text
    assert 'class="pause"' in bar(picture(portal.client.get("/disclosures").text), request_id)
    at(portal, MONDAY + timedelta(days=7))  # the third party answers after five working days
    as_role(portal, "disclosure_officer")
    ended = post(portal, f"/disclosures/{request_id}/consultation/end", {"reply": "同意公开"})
    assert ended.status_code == 303
    after = due_on(portal, request_id)
    assert first < after < paused
    assert after == working_days_after(MONDAY.date(), 25)  # 20 plus the 5 paused
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "同意公开" in page.text and 'id="start-consultation"' not in page.text


def test_extension_is_approved_by_a_manager_only(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    first = due_on(portal, request_id)
    too_long = post(portal, f"/disclosures/{request_id}/extension", {"days": "25", "reason": "案情复杂"})
    assert too_long.status_code == 422 and field_error(too_long.text, "extension_days")
    no_reason = post(portal, f"/disclosures/{request_id}/extension", {"days": "10", "reason": ""})
    assert no_reason.status_code == 422 and field_error(no_reason.text, "extension_reason")
    asked = post(portal, f"/disclosures/{request_id}/extension", {"days": "10", "reason": "需调取多段录像"})
    assert asked.status_code == 303
    assert "待审批" in portal.client.get(f"/disclosures/{request_id}").text
    self_approved = post(portal, f"/disclosures/{request_id}/extension/decision", {"decision": "approve"})
    assert self_approved.status_code == 403 and "<code>role</code>" in self_approved.text
    assert due_on(portal, request_id) == first

    as_role(portal, "archive_manager")
    assert badge(portal.client.get("/disclosures").text) >= 1
    notices = portal.client.get("/notifications")
    assert f'href="/disclosures/{request_id}"' in notices.text and "待审批" in notices.text
    page = portal.client.get(f"/disclosures/{request_id}")
    assert 'id="approve-extension"' in page.text and "需调取多段录像" in page.text
    refused = post(
        portal, f"/disclosures/{request_id}/extension/decision", {"decision": "refuse", "reason": ""}
    )
    assert refused.status_code == 422 and field_error(refused.text, "extension_decision_reason")
    approved = post(portal, f"/disclosures/{request_id}/extension/decision", {"decision": "approve"})
    assert approved.status_code == 303
    assert due_on(portal, request_id) == working_days_after(MONDAY.date(), 30)
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "已批准" in page.text and "答复期限延长 10 个工作日" in page.text
    twice = post(portal, f"/disclosures/{request_id}/extension/decision", {"decision": "approve"})
    assert twice.status_code == 409


def test_nobody_approves_their_own_extension(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    asked = post(portal, f"/disclosures/{request_id}/extension", {"days": "5", "reason": "待核实"})
    assert asked.status_code == 303
    with portal.wired.sessions() as session:  # the officer who asked becomes an archive manager
        officer = session.scalar(select(User).where(User.username == "disclosure-officer"))
        assert officer is not None
        officer.role = Role.archive_manager.value
        session.commit()
    as_role(portal, "disclosure_officer")
    page = portal.client.get(f"/disclosures/{request_id}")
    assert page.status_code == 200 and "不得审批本人" in page.text
    assert 'id="approve-extension"' not in page.text
    own = post(portal, f"/disclosures/{request_id}/extension/decision", {"decision": "approve"})
    assert own.status_code == 403 and "own-request" in own.text and "不得自行审批" in own.text
    denied = [e for e in ledger(portal, "disclosure.extension.decide") if e.outcome == "denied"]
    assert denied and denied[-1].detail["rule"] == "own-request"
    assert stored(portal, request_id).extension_status == "requested"


def test_message_to_the_applicant(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    untaken = post(portal, f"/disclosures/{request_id}/message", {"body": "您好"})
    assert untaken.status_code == 403 and "assigned-officer" in untaken.text
    take(portal, request_id)
    assert post(portal, f"/disclosures/{request_id}/message", {"body": ""}).status_code == 422
    assert post(portal, f"/disclosures/{request_id}/message", {"body": "材料正在调取中"}).status_code == 303
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "材料正在调取中" in page.text and "留言" in page.text


def test_reminder_badge_when_the_deadline_is_near(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    assert badge(portal.client.get("/disclosures").text) == 1  # a new request nobody has taken
    assert "待分办" in portal.client.get("/notifications").text
    assert badge(portal.client.get("/disclosures").text) == 0  # read
    at(portal, datetime.combine(working_days_after(MONDAY.date(), 17), MONDAY.timetz()))
    as_role(portal, "disclosure_officer")
    assert badge(portal.client.get("/disclosures").text) == 1
    notices = portal.client.get("/notifications")
    assert f'href="/disclosures/{request_id}"' in notices.text and "还剩 3 个工作日" in notices.text
    assert "Disclosure request" in portal.client.get("/notifications?lang=en").text


# --- the reply -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "words"),
    [
        ("not_exist", "信息不存在"),
        ("not_this_office", "非本机关负责公开"),
        ("repeated", "重复申请"),
    ],
)
def test_replies_that_release_nothing(portal: Portal, decision: str, words: str) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    page = portal.client.get(f"/disclosures/{request_id}")
    assert f'id="decision-{decision}"' in page.text and words in page.text
    no_reasons = reply(portal, request_id, {"decision": decision, "reasons": ""})
    assert no_reasons.status_code == 422 and field_error(no_reasons.text, "reasons")
    # A basis or ticked records of a hidden field are not part of this reply.
    data = {"decision": decision, "reasons": "经检索核实", "basis": "art16_case_file", "record_ids": ["d2"]}
    assert reply(portal, request_id, data).status_code == 303
    row = stored(portal, request_id)
    assert (row.status, row.decision, row.decision_basis) == ("decided", decision, None)
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "已答复" in page.text and words in page.text and 'id="send-decision"' not in page.text
    letter = portal.client.get(f"/disclosures/{request_id}/letter")
    assert letter.status_code == 200 and f"答复：{words}" in letter.text
    assert reply(portal, request_id, data).status_code in (403, 409)  # answered already


def test_released_copies_the_sealed_record(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    nothing = reply(portal, request_id, {"decision": "released", "reasons": "可以公开"})
    assert nothing.status_code == 422 and field_error(nothing.text, "record_ids")
    answer = reply(portal, request_id, {"decision": "released", "reasons": "可以公开", "record_ids": ["d2"]})
    assert answer.status_code == 303, answer.text
    with portal.wired.sessions() as session:
        items = list(session.scalars(select(ReleasedItem).where(ReleasedItem.request_id == request_id)))
    assert [(i.record_id, i.redacted) for i in items] == [("d2", False)]
    assert read_bytes(portal.wired.release, items[0].key) == pdf_bytes("d2")
    letter = portal.client.get(f"/disclosures/{request_id}/letter").text
    assert "答复：予以公开" in letter and items[0].sha256 in letter and "第三十六条第（二）项" in letter
    assert 'id="letter-basis"' not in letter


def test_not_released_needs_its_basis(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    missing = reply(portal, request_id, {"decision": "not_released", "reasons": "属于行政执法案卷信息"})
    assert missing.status_code == 422 and "第十四条" in field_error(missing.text, "basis")
    assert stored(portal, request_id).status == "received"
    data = {"decision": "not_released", "reasons": "属于行政执法案卷信息", "basis": "art16_case_file"}
    assert reply(portal, request_id, data).status_code == 303
    row = stored(portal, request_id)
    assert (row.decision, row.decision_basis, row.items) == ("not_released", "art16_case_file", [])
    letter = portal.client.get(f"/disclosures/{request_id}/letter").text
    assert "答复：不予公开" in letter and "第十六条" in letter and "行政执法案卷信息，可以不予公开" in letter


def test_partial_release_with_a_redacted_upload_and_its_letter(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    redacted = pdf_bytes("i1 redacted: names removed")
    data = {
        "decision": "partly_released",
        "reasons": "询问笔录涉及个人隐私，已作删除处理",
        "record_ids": ["d2"],
        "redaction_record": ["i1", ""],
    }
    files = [
        ("redaction_file", ("询问笔录（删除处理）.pdf", redacted, "application/pdf")),
        ("redaction_file", ("", b"", "application/octet-stream")),  # an unused upload row
    ]
    no_basis = reply(portal, request_id, data, files=files)
    assert no_basis.status_code == 422 and field_error(no_basis.text, "basis")
    data["basis"] = "art15_commercial_privacy"
    half = reply(portal, request_id, data | {"redaction_record": ["", ""]}, files=files)
    assert half.status_code == 422 and field_error(half.text, "redactions")
    answer = reply(portal, request_id, data, files=files)
    assert answer.status_code == 303, answer.text
    with portal.wired.sessions() as session:
        items = list(session.scalars(select(ReleasedItem).where(ReleasedItem.request_id == request_id)))
    by_record = {i.record_id: i for i in items}
    assert set(by_record) == {"d2", "i1"}
    copy = by_record["i1"]
    assert copy.redacted and copy.filename == "询问笔录（删除处理）.pdf"
    assert read_bytes(portal.wired.release, copy.key) == redacted
    assert not by_record["d2"].redacted
    page = portal.client.get(f"/disclosures/{request_id}")
    assert "部分公开" in page.text and "删除处理件" in page.text and copy.sha256 in page.text

    letter = portal.client.get(f"/disclosures/{request_id}/letter")
    assert letter.status_code == 200 and 'class="letter-page"' in letter.text and "<nav" not in letter.text
    text = letter.text
    assert "政府信息公开申请答复告知书" in text and "深圳市民防委员会办公室" in text
    assert stored(portal, request_id).tracking_code in text and "张三" in text
    assert MONDAY.date().isoformat() in text
    assert "答复：部分公开" in text and "第十五条" in text and "个人隐私" in text and "第三十七条" in text
    assert copy.sha256 in text and by_record["d2"].sha256 in text and 'id="letter-release"' in text
    remedy = re.search(r'id="letter-remedy">([^<]+)<', text)
    assert remedy and "60日内" in remedy.group(1) and "申请行政复议" in remedy.group(1)
    assert "6个月内" in remedy.group(1) and "提起行政诉讼" in remedy.group(1)
    assert 'data-print id="print"' in text
    assert "size: A4 portrait" in portal.client.get("/static/disclosure.css").text
    english = portal.client.get(f"/disclosures/{request_id}/letter?lang=en").text
    assert "Partly released" in english and "administrative reconsideration" in english


def test_letter_before_the_reply_is_a_conflict(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "archive_manager")
    assert portal.client.get(f"/disclosures/{request_id}/letter").status_code == 409


def test_state_secret_record_is_never_released(portal: Portal, make_case: Callable[..., Path]) -> None:
    document = case_document(SECRET_CASE)
    secret = next(r for r in document["records"] if r["id"] == "d1")
    secret["classification"] = {"level": "state_secret", "grade": "secret"}
    operations.deposit(portal.wired, folder=make_case(document), actor="test")
    at(portal, MONDAY)
    request_id = file_request(portal, case_no=SECRET_CASE)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    page = portal.client.get(f"/disclosures/{request_id}")
    assert re.search(r'<input type="checkbox" value="d1" disabled', page.text)
    assert 'name="record_ids" value="d1"' not in page.text
    assert 'id="withheld-d1">国家秘密，不得公开（第十四条）<' in page.text
    # The officer holds no clearance: the secret record's title is withheld, as in the catalogue.
    assert secret["title"] not in page.text and "（密级内容已隐去）" in page.text
    assert '<option value="d1">' not in page.text  # nor as the original of a redacted file
    forged_form = {"decision": "released", "reasons": "公开", "record_ids": ["d2", "d1"]}
    forged = reply(portal, request_id, forged_form)
    assert forged.status_code == 403 and "state-secret" in forged.text
    denied = [e for e in ledger(portal, "disclosure.release") if e.outcome == "denied"]
    assert len(denied) == 1 and denied[0].record_id == "d1" and denied[0].detail["rule"] == "state-secret"
    row = stored(portal, request_id)
    assert row.status == "received" and row.items == []
    assert not list(portal.wired.release.list(f"releases/{row.tracking_code}"))
