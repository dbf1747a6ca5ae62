"""The public list of activities recorded on video (rules art. 12) and the yearly disclosure
statistics (OGI art. 50): on the public portal and its API without signing in; the list kept by the
system administrator, each change with a reason and ledgered; nobody else may change it."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from access.activities import RecordedActivity
from access.disclosure.models import DisclosureRequest
from access.ledger import LedgerEntry
from archive.sip import Activity
from tests.support import disclosure_pages
from tests.support.portal import Portal
from tests.support.public import decide
from tests.support.web import CSRF_FIELD, field_error, signed_in

pytestmark = pytest.mark.store("file")

CHANGE = {
    "code": "hearing",
    "name_zh": "听证会",
    "name_en": "Hearing",
    "continuous": "yes",
    "basis": "第十二条",
    "position": "5",
    "published": "yes",
    "reason": "听证应全程无间断记录",
}


def _public_list(portal: Portal) -> list[dict[str, object]]:
    portal.client.cookies.clear()
    answer = portal.client.get("/public/api/v1/recorded-activities")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["activities"])


def _csrf(portal: Portal) -> str:
    """The signed-in session's CSRF token, from a page every role sees."""
    found = CSRF_FIELD.search(portal.client.get("/notifications").text)
    assert found
    return found.group(1)


def _change(portal: Portal, **fields: str) -> object:
    data = {"csrf_token": _csrf(portal)} | CHANGE | fields
    return portal.client.post("/admin/activities?lang=zh", data=data, follow_redirects=False)


def test_the_seeded_list_is_public_without_signing_in(portal: Portal) -> None:
    listed = _public_list(portal)
    assert [a["code"] for a in listed] == [a.value for a in Activity if a is not Activity.other]
    throughout = {a["code"] for a in listed if a["continuous"]}
    assert throughout == {"coercion", "evidence_preservation"}  # they touch property directly (art. 12)
    page = portal.client.get("/public/recorded-activities?lang=zh")
    assert page.status_code == 200
    assert "现场检查" in page.text and "行政强制" in page.text
    assert re.search(r'id="activity-coercion">.*?全过程无间断音像记录', page.text, re.S)
    index = portal.client.get("/public/?lang=zh").text
    assert 'href="/public/recorded-activities"' in index and 'href="/public/disclosure-statistics"' in index
    assert "证据保全" in index


def test_the_system_administrator_changes_it_with_a_reason_ledgered(portal: Portal) -> None:
    signed_in(portal, "sysadmin")
    settings = portal.client.get("/admin/settings?lang=zh").text
    assert 'href="/admin/activities"' in settings
    form = portal.client.get("/admin/activities?lang=zh")
    assert form.status_code == 200 and "听证" in form.text
    answer = _change(portal)
    assert answer.status_code == 303, answer.text  # type: ignore[attr-defined]
    hearing = next(a for a in _public_list(portal) if a["code"] == "hearing")
    assert (hearing["name_zh"], hearing["continuous"], hearing["position"]) == ("听证会", True, 5)
    with portal.wired.sessions() as session:
        entry = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.action == "activities.edit", LedgerEntry.outcome == "allowed"
            )
        ).one()
    assert entry.actor == "sysadmin"
    assert entry.detail["reason"] == "听证应全程无间断记录"
    assert entry.detail["changed"] == {"name_zh": "听证会", "continuous": True, "basis": "第十二条"}
    assert entry.detail["before"]["name_zh"] == "听证"


def test_an_activity_is_added_and_one_withdrawn_from_the_public_list(portal: Portal) -> None:
    signed_in(portal, "sysadmin")
    added = _change(
        portal, code="sealing", name_zh="查封现场", name_en="Sealing", position="8", reason="新增"
    )
    assert added.status_code == 303  # type: ignore[attr-defined]
    hidden = _change(
        portal, code="service", name_zh="送达", name_en="Service", published="", reason="另行公开"
    )
    assert hidden.status_code == 303  # type: ignore[attr-defined]
    codes = [a["code"] for a in _public_list(portal)]
    assert "sealing" in codes and "service" not in codes
    assert "查封现场" in portal.client.get("/public/?lang=zh").text


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"reason": "  "}, "reason", "请填写修改原因"),
        ({"name_zh": ""}, "name_zh", "请填写中文名称"),
        ({"code": "Bad Code"}, "code", "代码须为"),
        ({"position": "first"}, "position", "顺序须为"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    portal: Portal, fields: dict[str, str], field: str, says: str
) -> None:
    signed_in(portal, "sysadmin")
    answer = _change(portal, **fields)
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert says in field_error(answer.text, field)  # type: ignore[attr-defined]
    assert next(a for a in _public_list(portal) if a["code"] == "hearing")["name_zh"] == "听证"
    with portal.wired.sessions() as session:
        assert not session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.action == "activities.edit", LedgerEntry.outcome == "allowed"
            )
        ).all()


@pytest.mark.parametrize("role", ["archivist", "archive_manager", "security_auditor", "security_admin"])
def test_nobody_else_may_change_it(portal: Portal, role: str) -> None:
    signed_in(portal, role)
    assert portal.client.get("/admin/activities?lang=zh").status_code == 403
    answer = _change(portal)
    assert answer.status_code == 403  # type: ignore[attr-defined]
    assert next(a for a in _public_list(portal) if a["code"] == "hearing")["name_zh"] == "听证"
    with portal.wired.sessions() as session:
        refused = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.action.in_(["settings.read", "activities.edit"]), LedgerEntry.outcome == "denied"
            )
        ).all()
    assert sorted(e.action for e in refused) == ["activities.edit", "settings.read"]
    assert len(refused) == 2 and {e.actor for e in refused} == {role.replace("_", "-")}
    with portal.wired.sessions() as session:
        assert (
            session.scalar(select(RecordedActivity).where(RecordedActivity.code == "hearing")).name_zh
            == "听证"
        )  # type: ignore[union-attr]


def test_signed_out_the_edit_page_asks_to_sign_in(portal: Portal) -> None:
    answer = portal.client.get("/admin/activities", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def _statistics(portal: Portal, year: int | None = None) -> dict[str, object]:
    portal.client.cookies.clear()
    params = {"year": year} if year else {}
    answer = portal.client.get("/public/api/v1/disclosure-statistics", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_statistics_count_the_year_by_outcome_and_deadline_met(portal: Portal) -> None:
    disclosure_pages.at(portal, disclosure_pages.MONDAY)  # 2026-03-02
    answered, late, overdue, withdrawn, fresh = (disclosure_pages.file_request(portal) for _ in range(5))
    decide(portal, answered, decision="not_exist", record_ids=(), now=disclosure_pages.MONDAY)
    with portal.wired.sessions() as session:
        for request_id, changes in (
            (late, {"status": "decided", "decision": "released", "decided_on": date(2026, 6, 1)}),
            (withdrawn, {"status": "withdrawn"}),
            (fresh, {"received_on": date(2026, 12, 1), "clock_from": date(2026, 12, 1)}),
        ):
            row = session.get(DisclosureRequest, request_id)
            for name, value in changes.items():
                setattr(row, name, value)
        session.commit()
    disclosure_pages.at(portal, disclosure_pages.MONDAY.replace(month=12, day=3))
    stats = _statistics(portal, 2026)
    assert stats["year"] == 2026 and stats["received"] == 5
    assert stats["outcomes"] == {
        "released": 1,
        "partly_released": 0,
        "not_released": 0,
        "not_exist": 1,
        "not_this_office": 0,
        "repeated": 0,
        "withdrawn": 1,
        "open": 2,
    }
    assert stats["timeliness"] == {
        "in_time": 1,
        "late": 1,
        "open_in_time": 1,
        "open_overdue": 1,
        "no_deadline": 1,
    }
    assert overdue  # filed in March, never answered: past its 20 working days
    assert _statistics(portal, 2025)["received"] == 0
    assert _statistics(portal)["year"] == 2026  # this year when none is asked for
    page = portal.client.get("/public/disclosure-statistics?year=2026&lang=zh")
    assert page.status_code == 200
    assert "2026 年共收到政府信息公开申请 5 件" in page.text
    assert re.search(r'id="timeliness-late"><th scope="row">超过期限答复</th><td>1</td>', page.text)


@pytest.mark.parametrize("year", ["1999", "2027", "abc", "²"])  # "²" passes str.isdigit, not int
def test_a_year_out_of_range_is_refused(portal: Portal, year: str) -> None:
    disclosure_pages.at(portal, disclosure_pages.MONDAY)
    assert portal.client.get("/public/api/v1/disclosure-statistics", params={"year": year}).status_code == 422
    page = portal.client.get(f"/public/disclosure-statistics?year={year}&lang=zh")
    assert page.status_code == 422 and "<html" in page.text


def test_the_public_pages_read_in_english_too(portal: Portal) -> None:
    listed = portal.client.get("/public/recorded-activities?lang=en").text
    assert "On-site inspection" in listed and "recorded throughout, without interruption" in listed
    assert "Outcomes" in portal.client.get("/public/disclosure-statistics?lang=en").text
    signed_in(portal, "sysadmin")
    assert "Reason for the change" in portal.client.get("/admin/activities?lang=en").text
