"""The trails page (审计轨迹) for security auditors: one person's, case's or record's entries —
who did what, when, from where, allowed or refused and why — with the CSV and the signed
evidence package to download. Linked from the ledger's actor, case and record cells."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from access import trails
from access.policy import Action
from portal.internal.trails import api, operations
from portal.web.auth import DB, PAGE_CSRF
from portal.web.i18n import choose_lang, translate
from portal.web.labels import N_
from portal.web.pages import PageCaller, PageRoute, page
from portal.web.params import SeqBelow

TRAIL_PAGE = 200
FIELDS = {"since": N_("trails.since"), "until": N_("trails.until")}

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])


def _day(value: str) -> date | None:
    text = value.strip()
    return date.fromisoformat(text) if text else None


@router.get("/trails")
def trail_page(
    request: Request,
    session: DB,
    caller: PageCaller,
    actor: str = "",
    case_no: str = "",
    record: str = "",
    since: str = "",
    until: str = "",
    before: SeqBelow = None,
) -> Response:
    """A trail, newest first, with its CSV and evidence package; without a person, case or
    record, the form alone. Each look is ledgered as `trail.read`."""
    lang, _ = choose_lang(request)
    form = {"actor": actor, "case_no": case_no, "record": record, "since": since, "until": until}
    errors: list[str] = []
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        try:
            days[name] = _day(form[name])
        except ValueError:
            field = translate(lang, FIELDS[name])
            errors.append(translate(lang, "trails.bad_date", field=field, value=form[name]))
            days[name] = None
    asked = any(form[name].strip() for name in ("actor", "case_no", "record"))
    context: dict[str, Any] = {"form": form, "errors": errors, "rows": [], "trail": None}
    if errors or not asked:
        # Still the auditor's page only: the look is decided and ledgered, the form shown.
        api.decide(request, session, caller, Action.trail_read, trails.TrailQuery(actor=actor or None))
        return page(request, "trails/trail.html", status=422 if errors else 200, **context)
    try:
        query = api.trail_query(
            actor=actor, case_no=case_no, record=record, since=days["since"], until=days["until"]
        )
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        errors.append(translate(lang, "trails.bad_period"))
        api.decide(request, session, caller, Action.trail_read, trails.TrailQuery(actor=actor or None))
        return page(request, "trails/trail.html", status=422, **context)
    entries, total, following = api.trail_entries(
        request, session, caller, query, before=before, limit=TRAIL_PAGE
    )
    rows = operations.rows_of(lang, entries, operations.names_of(session, entries))
    kept = {k: v.strip() for k, v in form.items() if v.strip()}
    older = "?" + urlencode({**kept, "before": following}) if following else None
    return page(
        request,
        "trails/trail.html",
        **context
        | {
            "rows": rows,
            "trail": {
                "title": operations.title_of(lang, query),
                "period": operations.period_of(lang, query),
                "count": total,
                "csv_url": "/api/v1/trails.csv?" + urlencode(kept),
                "evidence_url": "/api/v1/trails/evidence?" + urlencode(kept),
                "older": older,
            },
        },
    )
