"""The fixity page (定期检测): the archive drawn by days since each bundle was last verified, the
bundles whose last audit failed, and the open alerts with a form to acknowledge each.

The picture is inline SVG like `portal.web.charts`'s: the bars' geometry here, the drawing in the
macro `charts/fixity.html` (no script, no `style` attributes, a `<title>` on every bar), and the
same counts as a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from access.policy import Action, Denied, collection, permits
from portal.internal.retention import audit_rounds as audit_runs
from portal.web import api as web_api
from portal.web import auth
from portal.web.auth import DB, PAGE_CSRF, wired_of
from portal.web.charts import GridLine
from portal.web.i18n import Translate, choose_lang, translate
from portal.web.pages import PageCaller, PageRoute, page
from portal.web.params import RowId
from retention import audits

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])

BINS = 9  # bars up to the audit interval; one more for the overdue
NOTE_MAX = 2000
WIDTH, HEIGHT = 960, 220
TOP, BOTTOM, LEFT, RIGHT = 28, 30, 44, WIDTH - 12


@dataclass(frozen=True)
class Bin:
    """Bundles last verified between `low` and `high` days ago (`high` None: `low` or more)."""

    low: int
    high: int | None
    count: int

    def label(self, t: Translate) -> str:
        """The bin's range in words."""
        if self.high is None:
            return t("fixity.bin_over", days=self.low)
        days = f"{self.low}–{self.high}"
        return t("fixity.bin", range=days)


def bins(ages: list[int], *, every_days: int) -> list[Bin]:
    """Ages in days counted into `BINS` equal bins up to `every_days`, then one overdue bin."""
    width = max(1, math.ceil(every_days / BINS))
    edges = list(range(0, every_days, width))
    found = []
    for index, low in enumerate(edges):
        high = min(edges[index + 1] if index + 1 < len(edges) else every_days, every_days) - 1
        found.append(Bin(low, high, sum(1 for a in ages if low <= a <= high)))
    found.append(Bin(every_days, None, sum(1 for a in ages if a >= every_days)))
    return found


@dataclass(frozen=True)
class AgeBar:
    """One bin's bar: fresh, ageing (the last third of the interval) or overdue, and its labels."""

    low: int
    count: int
    label: str
    note: str
    shade: str  # fresh, ageing or overdue
    x: float
    width: float
    y: float
    height: float


@dataclass(frozen=True)
class AgeDrawing:
    """Everything the macro `charts/fixity.html` draws."""

    title: str
    desc: str
    grid: tuple[GridLine, ...]
    bars: tuple[AgeBar, ...]
    width: int = WIDTH
    height: int = HEIGHT
    top: int = TOP
    left: int = LEFT
    right: int = RIGHT
    plot_h: int = HEIGHT - TOP - BOTTOM


def age_drawing(found: list[Bin], t: Translate, *, every_days: int) -> AgeDrawing:
    """The bins as bars; the last third of the interval amber, the overdue bin red."""
    plot_h = HEIGHT - TOP - BOTTOM
    base = HEIGHT - BOTTOM
    peak = max((b.count for b in found), default=0) or 1
    slot = (RIGHT - LEFT) / len(found)
    grid = tuple(GridLine(base - plot_h * value / peak, value) for value in sorted({0, peak}))
    bars = []
    for index, item in enumerate(found):
        shade = "overdue" if item.high is None else "ageing" if item.low >= every_days * 2 / 3 else "fresh"
        height = plot_h * item.count / peak
        name = item.label(t)
        bars.append(
            AgeBar(
                low=item.low,
                count=item.count,
                label=name,
                note=t("fixity.bin_tip", range=name, n=item.count),
                shade=shade,
                x=LEFT + slot * index + 4,
                width=slot - 8,
                y=base - height,
                height=height,
            )
        )
    return AgeDrawing(
        title=t("fixity.chart"), desc=t("fixity.chart_desc", days=every_days), grid=grid, bars=tuple(bars)
    )


def _days_since(now: datetime, then: datetime) -> int:
    return max(0, (now - then).days)


def _fixity(
    request: Request, session: DB, caller: PageCaller, *, status: int = 200, **extra: Any
) -> Response:
    """The page, after the policy allowed reading it (ledgered)."""
    web_api.guard(request, session, caller, Action.fixity_read, collection("fixity"))
    wired = wired_of(request)
    every = wired.settings.audit_every_days
    now = wired.clock()
    found = audits.standings(session)
    lang, _ = choose_lang(request)
    counts = bins([_days_since(now, s.verified_at) for s in found], every_days=every)
    case_of = {s.bundle_id: s.case_no for s in found}
    return page(
        request,
        "retention/fixity.html",
        status=status,
        every=every,
        total=len(found),
        overdue=counts[-1].count,
        failed=[s for s in found if s.outcome == audits.FAILED],
        alerts=audits.open_alerts(session),
        case_of=case_of,
        bins=[(b.label(partial(translate, lang)), b.count) for b in counts],
        ages=age_drawing(counts, partial(translate, lang), every_days=every),
        may_acknowledge=permits(caller.subject, Action.fixity_acknowledge),
        **{"errors": {}, "note": "", "alert_id": None, **extra},
    )


@router.get("/fixity")
def fixity_page(request: Request, session: DB, caller: PageCaller) -> Response:
    """Audit standing of the whole archive, failures and open alerts."""
    return _fixity(request, session, caller)


@router.post("/fixity/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    request: Request,
    session: DB,
    caller: PageCaller,
    alert_id: RowId,
    note: Annotated[str, Form(max_length=NOTE_MAX)] = "",
) -> Response:
    """Close an open alert with a note (ledgered as `fixity.acknowledge`) → 303 to the page."""
    lang, _ = choose_lang(request)
    if not note.strip():
        error = translate(lang, "fixity.note_missing")
        return _fixity(request, session, caller, status=422, errors={alert_id: error}, alert_id=alert_id)
    context = auth.policy_context(request, session, caller)
    try:
        audit_runs.acknowledge(
            session, subject=caller.subject, context=context, alert_id=alert_id, note=note.strip()
        )
    except Denied as exc:
        raise web_api.Denied(exc.decision) from exc
    except audits.AlertClosed as exc:
        raise HTTPException(409, translate(lang, "fixity.closed")) from exc
    return RedirectResponse("/fixity#alerts", status_code=303)
