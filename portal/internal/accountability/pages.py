"""The accountability pages (责任追究, rules art. 20): `/accountability` — the compliance findings
of every sealed case drawn per article and per officer, filtered by officer, department, article,
kind and period, with the lines below, a CSV export and — `/accountability/print` — the same
report for printing on A4. For security auditors and archive managers; every view is ledgered.

The pictures are horizontal bars (`bar_drawing`, macro `charts/bars.html`): no script, no `style`
attributes, a `<title>` on every bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from archive import accountability
from archive.compliance import Gap, Responsible
from portal.internal.accountability import operations
from portal.web.auth import DB, PAGE_CSRF, Principal, wired_of
from portal.web.charts import WIDTH, GridLine
from portal.web.i18n import Translate, choose_lang, label, translate
from portal.web.pages import PageCaller, PageRoute, page

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])
FILTERS = ("officer", "department", "article", "gap", "from", "to")
ROW_H, TOP, LEFT, RIGHT = 26, 14, 230, WIDTH - 60
MOST_BARS = 20  # officers beyond are counted in the table, not drawn


@dataclass(frozen=True)
class Bar:
    """One bar: what it counts, how many, where."""

    key: str
    label: str
    note: str
    count: int
    y: float
    width: float


@dataclass(frozen=True)
class BarDrawing:
    """Everything the macro `charts/bars.html` draws."""

    id: str
    title: str
    desc: str
    bars: tuple[Bar, ...]
    grid: tuple[GridLine, ...]
    height: int
    width: int = WIDTH
    top: int = TOP
    left: int = LEFT
    right: int = RIGHT
    row_h: int = ROW_H


def _ceiling(value: int) -> int:
    """A round upper bound for the scale."""
    for bound in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if value <= bound:
            return bound
    return value


def bar_drawing(
    items: list[tuple[str, str, int]], *, id: str, title: str, desc: str, t: Translate
) -> BarDrawing:
    """(key, label, count) as horizontal bars, longest scale a round number."""
    shown = items[:MOST_BARS]
    peak = _ceiling(max((c for _k, _l, c in shown), default=0))
    span = RIGHT - LEFT
    bars = tuple(
        Bar(
            key=key,
            label=name,
            note=t("accountability.bar_note", name=name, n=count),
            count=count,
            y=TOP + index * ROW_H,
            width=span * count / peak,
        )
        for index, (key, name, count) in enumerate(shown)
    )
    height = TOP + max(len(bars), 1) * ROW_H + 24
    grid = tuple(GridLine(LEFT + span * v / peak, v) for v in (0, peak // 2, peak))
    return BarDrawing(id=id, title=title, desc=desc, bars=bars, grid=grid, height=height)


def officer_name(lang: str, who: Responsible) -> str:
    """An officer as the report names them: name and badge number, or who is missing."""
    if not who.badge_no:
        return translate(lang, "accountability.nobody")
    name = who.name or translate(lang, "accountability.unnamed")
    return translate(lang, "accountability.officer_badge", name=name, badge=who.badge_no)


def pictures(lang: str, report: accountability.Report) -> tuple[BarDrawing, BarDrawing]:
    """Findings per article, and per officer."""
    t = partial(translate, lang)
    articles = [(str(a), t("finding.article", n=a), n) for a, n in report.by_article.items()]
    officers = [(c.officer.badge_no, officer_name(lang, c.officer), c.findings) for c in report.by_officer]
    return (
        bar_drawing(
            articles,
            id="by-article",
            title=t("accountability.by_article"),
            desc=t("accountability.by_article_desc", n=report.findings),
            t=t,
        ),
        bar_drawing(
            officers,
            id="by-officer",
            title=t("accountability.by_officer"),
            desc=t("accountability.by_officer_desc", n=len(report.by_officer)),
            t=t,
        ),
    )


def report_filters(request: Request) -> dict[str, str]:
    """The filters as the form sent them (`from` and `to` are Python keywords)."""
    return {name: request.query_params.get(name, "") for name in FILTERS}


Values = Annotated[dict[str, str], Depends(report_filters)]


def _report(
    request: Request, session: Session, caller: Principal, values: dict[str, str], *, export: str | None
) -> tuple[str, accountability.Report, dict[str, str], str]:
    """The report for the filters (ledgered), the messages of filters that did not parse, and the query."""
    lang, _ = choose_lang(request)
    filters, errors = operations.parse(lang, values)
    if errors:
        filters = operations.Filters()
    report = operations.read(request, session, caller, filters, export=export)
    if errors:
        report = accountability.Report([], 0, 0, {}, {}, [], report.departments)
    query = urlencode({k: v.strip() for k, v in values.items() if v.strip()})
    return lang, report, errors, query


def _context(lang: str, report: accountability.Report) -> dict[str, object]:
    by_article, by_officer = pictures(lang, report)
    return {
        "report": report,
        "by_article": by_article,
        "by_officer": by_officer,
        "articles": accountability.ARTICLES,
        "gaps": [g.value for g in Gap],
        "officer_name": partial(officer_name, lang),
        "message": partial(operations.shown_message, lang),
        "gap_label": lambda g: label(lang, "finding.gap", g.value),
    }


@router.get("/accountability")
def report_page(request: Request, session: DB, caller: PageCaller, values: Values) -> Response:
    """The report: a picture per article and per officer, the filters, the lines, CSV and print links."""
    lang, report, errors, query = _report(request, session, caller, values, export=None)
    suffix = f"?{query}" if query else ""
    return page(
        request,
        "accountability/report.html",
        status=422 if errors else 200,
        form=values,
        errors=errors,
        csv_url="/api/v1/accountability.csv" + suffix,
        print_url="/accountability/print" + suffix,
        **_context(lang, report),
    )


@router.get("/accountability/print")
def report_print(request: Request, session: DB, caller: PageCaller, values: Values) -> Response:
    """The report for printing: A4, no navigation, who printed it and when."""
    lang, report, errors, _query = _report(request, session, caller, values, export="print")
    return page(
        request,
        "accountability/print.html",
        status=422 if errors else 200,
        form=values,
        errors=errors,
        printed_at=wired_of(request).clock(),
        printed_by=caller.user.username,
        **_context(lang, report),
    )
