"""The accountability report (责任追究, rules art. 20): the compliance findings of every sealed case,
one line per finding and officer answerable for it, filtered by officer, department, article, kind
and period, and counted per article and per officer.

A case counts by its newest sealed version (a supplement supersedes what it completes). The period
is the case's closing day. Findings sealed before they named their officers are laid at the feet
of whoever recorded the footage they are about (`recorded_by`), badge number only; a finding that
names nobody (no officer listed at all, art. 8) stands as "unattributed". Case titles and finding
texts of state-secret cases are withheld: the report shows their number, article and officers only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from archive.compliance import Gap, Responsible, gap_of
from archive.models import Bundle, Case

NOBODY = Responsible(badge_no="", name=None)
ARTICLES = (7, 8, 9, 10, 11, 14, 15, 16, 17)


@dataclass(frozen=True)
class Line:
    """One finding of one sealed case, against one officer answerable for it."""

    case_no: str
    title: str | None  # None: withheld (state secret)
    bundle_id: str
    version: int
    closed_at: date
    article: int
    gap: Gap
    record_id: str | None
    finding: dict[str, Any] | None  # the stored finding (its messages); None when withheld
    officer: Responsible
    index: int = 0  # the finding's place in its bundle's findings

    def as_json(self) -> dict[str, Any]:
        """As the API and the CSV give it."""
        return {
            "case_no": self.case_no,
            "title": self.title,
            "bundle_id": self.bundle_id,
            "version": self.version,
            "closed_at": self.closed_at.isoformat(),
            "article": self.article,
            "gap": self.gap.value,
            "record_id": self.record_id,
            "message": self.finding.get("message") if self.finding else None,
            "message_zh": self.finding.get("message_zh") if self.finding else None,
            "badge_no": self.officer.badge_no or None,
            "officer": self.officer.name,
            "department": self.officer.department,
        }


@dataclass(frozen=True)
class OfficerCount:
    """How many findings one officer answers for, in all and per article."""

    officer: Responsible
    findings: int
    cases: int
    by_article: dict[int, int]


@dataclass(frozen=True)
class Report:
    """The lines the filters kept, and their counts."""

    lines: list[Line]
    cases: int
    findings: int  # distinct findings (a finding two officers answer for counts once)
    by_article: dict[int, int]
    by_gap: dict[Gap, int]
    by_officer: list[OfficerCount]
    departments: list[str]  # every department the sealed findings name, for the filter


def _officers(finding: dict[str, Any], recorded_by: dict[str, list[str]]) -> list[Responsible]:
    """Who a stored finding names; for one sealed before findings named them, who recorded its footage."""
    named = finding.get("officers")
    if isinstance(named, list):
        found = [
            Responsible(
                badge_no=str(o.get("badge_no") or ""),
                name=o.get("name") or None,
                department=o.get("department") or None,
            )
            for o in named
            if isinstance(o, dict)
        ]
        return found or [NOBODY]
    record_id = finding.get("record_id")
    badges = recorded_by.get(str(record_id), []) if record_id else []
    return [Responsible(badge_no=b, name=None) for b in badges] or [NOBODY]


def _newest(session: Session) -> list[Bundle]:
    """The newest sealed version of every case."""
    newest = (
        select(Bundle.case_id, func.max(Bundle.version).label("version")).group_by(Bundle.case_id).subquery()
    )
    query = (
        select(Bundle)
        .join(newest, (Bundle.case_id == newest.c.case_id) & (Bundle.version == newest.c.version))
        .join(Case, Case.id == Bundle.case_id)
        .options(selectinload(Bundle.records), selectinload(Bundle.case))
        .order_by(Case.closed_at.desc(), Case.case_no)
    )
    return list(session.scalars(query))


def _matches(officer: Responsible, *, who: str | None, department: str | None) -> bool:
    if who and who not in {officer.badge_no, officer.name}:
        return False
    return not department or officer.department == department


def report(
    session: Session,
    *,
    officer: str | None = None,
    department: str | None = None,
    article: int | None = None,
    gap: Gap | None = None,
    since: date | None = None,
    until: date | None = None,
) -> Report:
    """Every line of the sealed cases closed in [since, until] that the filters keep, with counts;
    `officer` is a badge number or a name."""
    lines: list[Line] = []
    departments: set[str] = set()
    for bundle in _newest(session):
        case = bundle.case
        if (since and case.closed_at < since) or (until and case.closed_at > until):
            continue
        recorded_by = {r.record_id: list((r.av or {}).get("recorded_by") or []) for r in bundle.records}
        withheld = bundle.classification == "state_secret"
        for index, finding in enumerate(bundle.findings):
            kind = gap_of(finding)
            number = int(finding.get("article") or 0)
            if (article and number != article) or (gap and kind is not gap):
                continue
            for who in _officers(finding, recorded_by):
                if who.department:
                    departments.add(who.department)
                if not _matches(who, who=officer, department=department):
                    continue
                lines.append(
                    Line(
                        case_no=case.case_no,
                        title=None if withheld else case.title,
                        bundle_id=bundle.id,
                        version=bundle.version,
                        closed_at=case.closed_at,
                        article=number,
                        gap=kind,
                        record_id=finding.get("record_id"),
                        finding=None if withheld else finding,
                        officer=who,
                        index=index,
                    )
                )
    return _counted(lines, departments)


def _counted(lines: list[Line], departments: set[str]) -> Report:
    """The counts of a report's lines."""
    distinct = {(ln.bundle_id, ln.index): ln for ln in lines}
    by_article = Counter(ln.article for ln in distinct.values())
    by_gap = Counter(ln.gap for ln in distinct.values())
    per: dict[Responsible, list[Line]] = {}
    for ln in lines:
        per.setdefault(ln.officer, []).append(ln)
    officers = [
        OfficerCount(
            officer=who,
            findings=len(own),
            cases=len({ln.case_no for ln in own}),
            by_article=dict(sorted(Counter(ln.article for ln in own).items())),
        )
        for who, own in per.items()
    ]
    officers.sort(key=lambda c: (-c.findings, c.officer.badge_no == "", c.officer.badge_no))
    return Report(
        lines=lines,
        cases=len({ln.case_no for ln in lines}),
        findings=len(distinct),
        by_article=dict(sorted(by_article.items())),
        by_gap={g: by_gap[g] for g in Gap if by_gap[g]},
        by_officer=officers,
        departments=sorted(departments),
    )
