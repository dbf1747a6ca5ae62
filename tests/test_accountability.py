"""The accountability report (rules art. 20): every sealed case's compliance findings, each naming
the officers answerable by badge number and name, counted per officer and per article, filtered,
exported as CSV and printed — for security auditors and archive managers only, every look ledgered."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from access.ledger import LedgerEntry
from archive.service import latest_bundle
from portal.cli.demo import case_document
from portal.internal.archive import operations
from tests.support.portal import Portal
from tests.support.web import signed_in

pytestmark = pytest.mark.store("file")

LATE = "深民防罚〔2026〕201号"  # stored late, an interruption without a reason, evidence without collector
NO_DECISION = "深民防罚〔2025〕77号"  # no decision record: art. 9, closed the year before
ZHANG = {"name": "张三", "badge_no": "44030001", "department": "执法一科"}
LI = {"name": "李四", "badge_no": "44030002", "department": "执法二科"}


def _late_case() -> dict[str, Any]:
    document = case_document(LATE)
    document["officers"] = [ZHANG, LI]
    footage = document["records"][-1]
    footage["av"]["stored_at"] = "2026-03-07T09:00:00+08:00"  # three days after it ended
    footage["av"]["interruptions"] = [
        {"at": "2026-03-04T09:00:01+08:00", "resumed_at": "2026-03-04T09:00:02+08:00", "reason": " "}
    ]
    footage["evidence"]["collector"] = None
    return document


def _no_decision_case() -> dict[str, Any]:
    document = case_document(NO_DECISION)
    document["officers"] = [ZHANG, LI]
    document["closed_at"] = "2025-12-01"
    document["records"] = [r for r in document["records"] if r["id"] != "d2"]
    document["records"][-1]["av"]["recorded_by"] = ["44030002"]
    return document


@pytest.fixture
def sealed(portal: Portal, make_case: Callable[..., Path]) -> Portal:
    """The demo case (no findings) and the two cases above, sealed."""
    for document in (_late_case(), _no_decision_case()):
        operations.deposit(portal.wired, folder=make_case(document), actor="test")
    return portal


def _report(portal: Portal, role: str = "security_auditor", **params: Any) -> Any:
    return portal.client.get("/api/v1/accountability", params=params, headers=portal.as_role(role))


def _officer(report: dict[str, Any], badge: str) -> dict[str, Any]:
    (found,) = [o for o in report["by_officer"] if o["badge_no"] == badge]
    return found


def test_findings_name_each_officer_by_badge_and_name(sealed: Portal) -> None:
    with sealed.wired.sessions() as session:
        bundle = latest_bundle(session, LATE)
        assert bundle is not None
        bundle_id, findings = bundle.id, bundle.findings
    late = [f for f in findings if f["gap"] == "stored_late"]
    assert late and late[0]["officers"] == [{**ZHANG}]  # who recorded the footage answers for it
    missing = [f for f in _no_decision_findings(sealed) if f["article"] == 9]
    assert missing[0]["officers"] == [ZHANG, LI]  # a case-level gap: every officer of the case
    page = signed_in(sealed, "archivist").client.get(f"/bundles/{bundle_id}?lang=zh").text
    assert "责任人：张三（执法证号 44030001）" in page
    api = sealed.client.get(f"/api/v1/bundles/{bundle_id}", headers=sealed.as_role("archivist")).json()
    assert {"badge_no": "44030001", "name": "张三", "department": "执法一科"} in api["findings"][0][
        "officers"
    ]


def _no_decision_findings(portal: Portal) -> list[dict[str, Any]]:
    with portal.wired.sessions() as session:
        bundle = latest_bundle(session, NO_DECISION)
        assert bundle is not None
        return list(bundle.findings)


def test_report_counts_findings_per_article_and_per_officer(sealed: Portal) -> None:
    answer = _report(sealed)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["cases"] == 2  # the compliant demo case has nothing to answer for
    assert report["by_article"] == {"9": 1, "14": 1, "16": 1, "17": 1}
    assert report["by_gap"] == {
        "missing_stage": 1,
        "interruption_unexplained": 1,
        "stored_late": 1,
        "evidence_incomplete": 1,
    }
    zhang, li = _officer(report, "44030001"), _officer(report, "44030002")
    assert (zhang["officer"], zhang["department"], zhang["findings"], zhang["cases"]) == (
        "张三",
        "执法一科",
        4,
        2,
    )
    assert zhang["by_article"] == {"9": 1, "14": 1, "16": 1, "17": 1}
    assert (li["findings"], li["by_article"]) == (1, {"9": 1})
    assert report["departments"] == ["执法一科", "执法二科"]
    lines = {(ln["case_no"], ln["gap"], ln["badge_no"]) for ln in report["lines"]}
    assert (LATE, "stored_late", "44030001") in lines and (LATE, "stored_late", "44030002") not in lines


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"officer": "44030002"}, {(NO_DECISION, 9, "44030002")}),
        ({"officer": "李四"}, {(NO_DECISION, 9, "44030002")}),
        ({"department": "执法二科"}, {(NO_DECISION, 9, "44030002")}),
        ({"article": 16}, {(LATE, 16, "44030001")}),
        ({"gap": "interruption_unexplained"}, {(LATE, 14, "44030001")}),
        (
            {"from": "2025-01-01", "to": "2025-12-31"},
            {(NO_DECISION, 9, "44030001"), (NO_DECISION, 9, "44030002")},
        ),
        ({"officer": "44030002", "article": 16}, set()),
    ],
)
def test_filters_keep_only_what_they_name(sealed: Portal, params: dict[str, Any], expected: set[Any]) -> None:
    report = _report(sealed, **params).json()
    assert {(ln["case_no"], ln["article"], ln["badge_no"]) for ln in report["lines"]} == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"article": "12"}, "article"),
        ({"gap": "lost"}, "gap"),
        ({"from": "2026-07-01", "to": "2026-01-01"}, "to"),
    ],
)
def test_a_bad_filter_is_refused_naming_it(sealed: Portal, params: dict[str, str], field: str) -> None:
    answer = _report(sealed, **params)
    assert answer.status_code == 422
    assert str(answer.json()["detail"]).startswith(field)


def test_the_page_draws_articles_and_officers_and_says_a_bad_date_in_chinese(sealed: Portal) -> None:
    client = signed_in(sealed, "security_auditor").client
    page = client.get("/accountability?lang=zh")
    assert page.status_code == 200
    html = page.text
    assert (
        '<svg xmlns="http://www.w3.org/2000/svg"' in html
        and 'id="by-article"' in html
        and 'id="by-officer"' in html
    )
    bars = dict(re.findall(r'<g class="bar" data-key="([^"]*)" data-count="(\d+)"', html))
    assert bars["16"] == "1" and bars["44030001"] == "4" and bars["44030002"] == "1"
    assert "张三（执法证号 44030001）" in html and "未在 24 小时内存储" in html and "第 16 条" in html
    assert 'href="/api/v1/accountability.csv"' in html and 'href="/accountability/print"' in html
    filtered = client.get("/accountability", params={"officer": "44030002", "lang": "zh"}).text
    assert 'href="/api/v1/accountability.csv?officer=44030002"' in filtered
    assert 'data-badge="44030001"' not in filtered
    bad = client.get("/accountability", params={"from": "2026-13-01", "lang": "zh"})
    assert bad.status_code == 422
    assert re.search(r'id="from-error">日期“2026-13-01”无效', bad.text)


def test_csv_has_a_bom_chinese_headers_and_the_officer(sealed: Portal) -> None:
    answer = sealed.client.get(
        "/api/v1/accountability.csv", params={"article": 16}, headers=sealed.as_role("archive_manager")
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["案件编号", "案件名称", "版本", "结案日期", "条款"]
    assert len(rows) == 2
    line = dict(zip(rows[0], rows[1], strict=True))
    assert (line["案件编号"], line["条款"], line["问题类型"]) == (LATE, "第16条", "未在 24 小时内存储")
    assert (line["执法证号"], line["执法人员"], line["执法科室"]) == ("44030001", "张三", "执法一科")
    assert "24 小时内" in line["问题说明"]


def test_the_print_view_is_an_a4_page_without_navigation(sealed: Portal) -> None:
    client = signed_in(sealed, "archive_manager").client
    page = client.get("/accountability/print", params={"department": "执法一科", "lang": "zh"})
    assert page.status_code == 200
    html = page.text
    assert '<body class="print-page">' in html and 'class="nav"' not in html
    assert "department=执法一科" in html and "打印人 archive-manager" in html
    assert 'id="by-officer"' in html and "张三（执法证号 44030001）" in html
    assert "44030002" not in html.split('id="lines"')[1]
    css = client.get(re.search(r'href="([^"]*app\.css[^"]*)"', html).group(1)).text  # type: ignore[union-attr]
    assert "@page { size: A4" in css


@pytest.mark.parametrize(
    "role", ["archivist", "supervisor", "sysadmin", "security_admin", "disclosure_officer"]
)
def test_other_roles_are_refused_and_the_refusal_is_ledgered(sealed: Portal, role: str) -> None:
    assert _report(sealed, role).status_code == 403
    csv_answer = sealed.client.get("/api/v1/accountability.csv", headers=sealed.as_role(role))
    assert csv_answer.status_code == 403
    page = signed_in(sealed, role).client.get("/accountability?lang=zh")
    assert page.status_code == 403 and "张三" not in page.text
    with sealed.wired.sessions() as session:
        refused = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.action == "accountability.read", LedgerEntry.outcome == "denied"
            )
        ).all()
    assert len(refused) == 3


def test_every_look_is_ledgered_with_its_filters(sealed: Portal) -> None:
    _report(sealed, officer="44030001", article=16)
    sealed.client.get("/api/v1/accountability.csv", headers=sealed.as_role("security_auditor"))
    with sealed.wired.sessions() as session:
        seen = session.scalars(
            select(LedgerEntry).where(LedgerEntry.action == "accountability.read").order_by(LedgerEntry.seq)
        ).all()
    assert [(e.actor, e.outcome) for e in seen] == [("security-auditor", "allowed")] * 2
    assert (seen[0].detail["officer"], seen[0].detail["article"], seen[0].detail["export"]) == (
        "44030001",
        16,
        "api",
    )
    assert seen[1].detail["export"] == "csv"


def test_findings_sealed_before_they_named_officers_fall_to_who_recorded(sealed: Portal) -> None:
    with sealed.wired.sessions() as session:
        bundle = latest_bundle(session, LATE)
        assert bundle is not None
        bundle.findings = [
            {k: v for k, v in f.items() if k not in {"gap", "officers"}} for f in bundle.findings
        ]
        session.commit()
    report = _report(sealed, gap="stored_late").json()
    assert [(ln["badge_no"], ln["officer"]) for ln in report["lines"]] == [("44030001", None)]


def test_state_secret_cases_show_number_and_officers_only(
    sealed: Portal, make_case: Callable[..., Path]
) -> None:
    document = _late_case()
    document["case_no"] = "深民防罚〔2026〕202号"
    document["title"] = "某涉密工程案"
    document["records"][-1]["classification"] = {"level": "state_secret", "grade": "secret"}
    operations.deposit(sealed.wired, folder=make_case(document), actor="test")
    report = _report(sealed, gap="stored_late").json()
    secret = [ln for ln in report["lines"] if ln["case_no"] == "深民防罚〔2026〕202号"]
    assert secret and secret[0]["title"] is None and secret[0]["message_zh"] is None
    assert secret[0]["badge_no"] == "44030001"
    page = signed_in(sealed, "security_auditor").client.get("/accountability?lang=zh").text
    assert "涉及国家秘密，名称与说明不显示" in page
    assert "某涉密工程案" not in page and "深民防罚〔2026〕202号" in page


def test_the_report_reads_in_english_too(sealed: Portal) -> None:
    client = signed_in(sealed, "archive_manager").client
    page = client.get("/accountability?lang=en").text
    assert "Accountability report" in page and "张三 (badge 44030001)" in page and "stored late" in page
    assert "Reviewed by" in client.get("/accountability/print?lang=en").text
