"""What the accountability pages and API share: the filters as a request gives them, the one
policy decision (`accountability.read`, ledgered with the filters), the report, and its CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from access.policy import Action, collection, enforce
from archive import accountability
from archive.compliance import Gap
from portal.web import api as web_api
from portal.web.auth import Principal, policy_context
from portal.web.i18n import finding_message, label, translate
from portal.web.params import whole_number

REPORT = collection("accountability")
CSV_COLUMNS = (
    "案件编号",
    "案件名称",
    "版本",
    "结案日期",
    "条款",
    "问题类型",
    "记录编号",
    "执法证号",
    "执法人员",
    "执法科室",
    "问题说明",
)


@dataclass(frozen=True)
class Filters:
    """The report's filters, parsed; `errors` names each filter that did not parse."""

    officer: str | None = None
    department: str | None = None
    article: int | None = None
    gap: Gap | None = None
    since: date | None = None
    until: date | None = None

    def as_detail(self) -> dict[str, Any]:
        """As the ledger entry of the decision keeps them."""
        return {
            "officer": self.officer,
            "department": self.department,
            "article": self.article,
            "gap": self.gap.value if self.gap else None,
            "from": self.since.isoformat() if self.since else None,
            "to": self.until.isoformat() if self.until else None,
        }


def parse(lang: str, values: dict[str, str]) -> tuple[Filters, dict[str, str]]:
    """The filters from the form or query (`officer department article gap from to`), and a message
    in `lang` for each that does not parse."""
    errors: dict[str, str] = {}
    article: int | None = None
    raw = values.get("article", "").strip()
    if raw:
        if whole_number(raw) in accountability.ARTICLES:
            article = int(raw)
        else:
            errors["article"] = translate(lang, "accountability.err.article", value=raw)
    gap: Gap | None = None
    raw = values.get("gap", "").strip()
    if raw:
        if raw in Gap.__members__:
            gap = Gap(raw)
        else:
            errors["gap"] = translate(lang, "accountability.err.gap", value=raw)
    days: dict[str, date | None] = {"from": None, "to": None}
    for name in days:
        raw = values.get(name, "").strip()
        if not raw:
            continue
        try:
            days[name] = date.fromisoformat(raw)
        except ValueError:
            errors[name] = translate(lang, "accountability.err.date", value=raw)
    if days["from"] and days["to"] and days["from"] > days["to"]:
        errors["to"] = translate(lang, "accountability.err.order")
    filters = Filters(
        officer=values.get("officer", "").strip() or None,
        department=values.get("department", "").strip() or None,
        article=article,
        gap=gap,
        since=days["from"],
        until=days["to"],
    )
    return filters, errors


def read(
    request: Request, session: Session, caller: Principal, filters: Filters, *, export: str | None = None
) -> accountability.Report:
    """The report for the filters, after the policy allowed it (decision ledgered with the filters,
    and how it is taken out: page, csv, print, api); a refusal is 403."""
    detail = {**filters.as_detail(), **({"export": export} if export else {})}
    decision = enforce(
        session,
        subject=caller.subject,
        action=Action.accountability_read,
        resource=REPORT,
        context=policy_context(request, session, caller),
        detail=detail,
    )
    session.commit()
    if not decision.allowed:
        raise web_api.Denied(decision)
    return accountability.report(
        session,
        officer=filters.officer,
        department=filters.department,
        article=filters.article,
        gap=filters.gap,
        since=filters.since,
        until=filters.until,
    )


def shown_message(lang: str, line: accountability.Line) -> str:
    """A line's finding in `lang`; empty when withheld."""
    return finding_message(lang, line.finding) if line.finding else ""


def report_csv(report: accountability.Report) -> bytes:
    """The lines as CSV with Chinese headers, UTF-8 with a byte-order mark so Excel shows the Chinese."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in report.lines:
        writer.writerow(
            (
                line.case_no,
                line.title if line.title is not None else translate("zh", "accountability.withheld"),
                line.version,
                line.closed_at.isoformat(),
                f"第{line.article}条",
                label("zh", "finding.gap", line.gap.value),
                line.record_id or "",
                line.officer.badge_no,
                line.officer.name
                or ("" if line.officer.badge_no else translate("zh", "accountability.nobody")),
                line.officer.department or "",
                shown_message("zh", line),
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
