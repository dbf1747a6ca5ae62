"""The accountability API (责任追究, rules art. 20): `GET /api/v1/accountability` — the compliance
findings of every sealed case by officer, department, article, kind and period, with their counts —
and `GET /api/v1/accountability.csv`. For security auditors and archive managers; every call is
decided and ledgered (`accountability.read`) with its filters.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from fastapi.responses import Response

from access.retrieval import CHINA
from archive import accountability
from portal.internal.accountability import operations
from portal.internal.accountability.schemas import Report
from portal.web.auth import API_CSRF, DB, Caller, wired_of
from portal.web.schemas import api_router, errors, file_answer

router = api_router(prefix="/api/v1", tag="accountability", dependencies=[API_CSRF])
CHINA_STAMP = "%Y%m%d-%H%M"

Officer = Annotated[str | None, Query(description="badge number or name of the officer")]
Department = Annotated[str | None, Query(description="the officer's department, as case.json names it")]
Article = Annotated[int | None, Query(description="article of the rules: 7–11, 14–17")]
GapKind = Annotated[str | None, Query(description="kind of gap, e.g. stored_late, interruption_unexplained")]
From = Annotated[date | None, Query(alias="from", description="cases closed on or after this day")]
To = Annotated[date | None, Query(alias="to", description="cases closed on or before this day")]


def _filters(values: dict[str, Any]) -> operations.Filters:
    """The query's filters; one that does not parse is 422 naming it."""
    given = {k: "" if v is None else str(v) for k, v in values.items()}
    filters, problems = operations.parse("en", given)
    if problems:
        field, message = next(iter(problems.items()))
        raise HTTPException(422, f"{field}: {message}")
    return filters


def report_json(report: accountability.Report, filters: operations.Filters) -> dict[str, Any]:
    """The report as the API gives it."""
    return {
        "filters": filters.as_detail(),
        "cases": report.cases,
        "findings": report.findings,
        "by_article": {str(k): v for k, v in report.by_article.items()},
        "by_gap": {g.value: n for g, n in report.by_gap.items()},
        "by_officer": [
            {
                "badge_no": c.officer.badge_no or None,
                "officer": c.officer.name,
                "department": c.officer.department,
                "findings": c.findings,
                "cases": c.cases,
                "by_article": {str(k): v for k, v in c.by_article.items()},
            }
            for c in report.by_officer
        ],
        "departments": report.departments,
        "lines": [line.as_json() for line in report.lines],
    }


@router.get("/accountability", response_model=Report, responses=errors(401, 403, 422))
def accountability_report(
    request: Request,
    session: DB,
    caller: Caller,
    officer: Officer = None,
    department: Department = None,
    article: Article = None,
    gap: GapKind = None,
    since: From = None,
    until: To = None,
) -> dict[str, Any]:
    """The compliance findings of every sealed case (its newest version), one line per finding
    and officer answerable, with counts per article, kind and officer."""
    filters = _filters(
        {
            "officer": officer,
            "department": department,
            "article": article,
            "gap": gap,
            "from": since,
            "to": until,
        }
    )
    report = operations.read(request, session, caller, filters, export="api")
    return report_json(report, filters)


@router.get(
    "/accountability.csv",
    response_class=Response,
    responses={
        200: file_answer(
            "The report's lines as CSV (UTF-8 with a byte-order mark, Chinese headers)", "text/csv"
        ),
        **errors(401, 403, 422),
    },
)
def accountability_csv(
    request: Request,
    session: DB,
    caller: Caller,
    officer: Officer = None,
    department: Department = None,
    article: Article = None,
    gap: GapKind = None,
    since: From = None,
    until: To = None,
) -> Response:
    """The report's lines as CSV, for Excel."""
    filters = _filters(
        {
            "officer": officer,
            "department": department,
            "article": article,
            "gap": gap,
            "from": since,
            "to": until,
        }
    )
    report = operations.read(request, session, caller, filters, export="csv")
    stamp = wired_of(request).clock().astimezone(CHINA).strftime(CHINA_STAMP)
    return Response(
        operations.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="accountability-{stamp}.csv"',
            "Cache-Control": "private, no-store",
        },
    )
