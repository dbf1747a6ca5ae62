"""The fixity page (定期检测): the archive drawn by days since each bundle was last verified, the
bundles whose last audit failed, and the open alerts with a form to acknowledge each.

The picture is inline SVG drawn on the server like `portal.web.charts`'s: no script, no `style`
attributes (the CSP forbids them), a `<title>` on every bar, and the same counts as a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from access.policy import Action, Denied, collection, permits
from portal.internal.retention import audit_rounds as audit_runs
from portal.web import api as web_api
from portal.web import auth
from portal.web.auth import DB, wired_of
from portal.web.charts import FONTS, GRID, INK, MUTED, el, num, text, tooltip
from portal.web.i18n import Translate, choose_lang, translate
from portal.web.pages import PageCaller, PageRoute, page
from portal.web.params import RowId
from retention import audits

router = APIRouter(include_in_schema=False, route_class=PageRoute)

BINS = 9  # bars up to the audit interval; one more for the overdue
NOTE_MAX = 2000
WIDTH, HEIGHT = 960, 220
FRESH, AGEING, OVERDUE = "#2a7f62", "#e0a100", "#b3261e"


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
        return t("fixity.bin", range=f"{self.low}–{self.high}")


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


def age_svg(found: list[Bin], t: Translate, *, every_days: int) -> Markup:
    """The bins as bars; the last third of the interval amber, the overdue bin red."""
    top, bottom, left, right = 28, 30, 44, WIDTH - 12
    plot_h = HEIGHT - top - bottom
    peak = max((b.count for b in found), default=0) or 1
    slot = (right - left) / len(found)
    parts = []
    for value in sorted({0, peak}):
        y = num(HEIGHT - bottom - plot_h * value / peak)
        parts.append(el("line", x1=str(left), x2=str(right), y1=y, y2=y, stroke=GRID, stroke_width="1"))
        parts.append(text(str(value), x=str(left - 6), y=y, text_anchor="end", font_size="10", fill=MUTED))
    for index, item in enumerate(found):
        colour = OVERDUE if item.high is None else AGEING if item.low >= every_days * 2 / 3 else FRESH
        x, h = left + slot * index + 4, plot_h * item.count / peak
        name = item.label(t)
        bar = [
            tooltip(t("fixity.bin_tip", range=name, n=item.count)),
            el("rect", x=num(x), y=num(top), width=num(slot - 8), height=num(plot_h), fill_opacity="0"),
            el("rect", x=num(x), y=num(HEIGHT - bottom - h), width=num(slot - 8), height=num(h), fill=colour),
            text(
                str(item.count),
                x=num(x + (slot - 8) / 2),
                y=num(HEIGHT - bottom - h - 4),
                text_anchor="middle",
                font_size="11",
                fill=INK,
            ),
        ]
        parts.append(el("g", *bar, class_="age-bin", data_low=str(item.low), data_count=str(item.count)))
        parts.append(
            text(
                name,
                x=num(x + (slot - 8) / 2),
                y=str(HEIGHT - 10),
                text_anchor="middle",
                font_size="10",
                fill=MUTED,
            )
        )
    return Markup(
        el(
            "svg",
            el("title", str(escape(t("fixity.chart"))), id="age-title"),
            el("desc", str(escape(t("fixity.chart_desc", days=every_days))), id="age-desc"),
            *parts,
            xmlns="http://www.w3.org/2000/svg",
            viewBox=f"0 0 {WIDTH} {HEIGHT}",
            role="img",
            aria_labelledby="age-title age-desc",
            class_="fixity-ages",
            font_family=FONTS,
        )
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
        chart=age_svg(counts, partial(translate, lang), every_days=every),
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
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Close an open alert with a note (ledgered as `fixity.acknowledge`) → 303 to the page."""
    auth.check_csrf(caller, csrf_token)
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
