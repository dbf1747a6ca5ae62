"""What the office publishes without anyone signing in (主动公开): the list of enforcement activities
it records on video and which of them without interruption (rules art. 12), and each year's
disclosure statistics (OGI art. 50) — as pages and as JSON under `/api/v1`.

Both read the database only: the list is `access.activities`, the statistics are counts over the
disclosure requests (`access.disclosure.statistics`), never an applicant, a case or a text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from access import activities
from access.disclosure import statistics
from access.disclosure.deadlines import office_day
from portal.public.api import calendar
from portal.public.pages import PublicPageRoute, page
from portal.public.schemas import DisclosureStatistics, RecordedActivities
from portal.web.auth import DB, public_wired_of
from portal.web.params import whole_number
from portal.web.schemas import api_router, errors

api = api_router(prefix="/api/v1", tag="public")
pages = APIRouter(include_in_schema=False, route_class=PublicPageRoute)
FIRST_YEAR = 2000
Year = Annotated[
    int | None, Query(ge=FIRST_YEAR, le=2999, description="the year of receipt; default this year")
]


def _activities(session: DB) -> dict[str, Any]:
    listed = activities.published(session)
    return {"activities": [a.as_json() for a in listed], "count": len(listed)}


def _year_statistics(request: Request, session: DB, year: int | None) -> statistics.YearStatistics:
    today = office_day(public_wired_of(request).clock())
    chosen = year or today.year
    if chosen > today.year:
        raise HTTPException(422, f"year: {chosen} has not begun")
    return statistics.year_statistics(session, calendar=calendar(session), year=chosen, today=today)


@api.get("/recorded-activities", response_model=RecordedActivities, responses=errors(422))
def recorded_activities(session: DB) -> dict[str, Any]:
    """The published list of activities recorded on video, in order; `continuous`: recorded
    throughout without interruption. No sign-in."""
    return _activities(session)


@api.get("/disclosure-statistics", response_model=DisclosureStatistics, responses=errors(422))
def disclosure_statistics(request: Request, session: DB, year: Year = None) -> dict[str, object]:
    """The requests received in `year`: how many, by outcome, by deadline met. No sign-in."""
    return _year_statistics(request, session, year).as_json()


@pages.get("/recorded-activities")
def activities_page(request: Request, session: DB) -> Response:
    """The list of activities recorded on video, which of them throughout, and why."""
    listed = activities.published(session)
    changed: datetime | None = max((a.changed_at for a in listed), default=None)
    return page(request, "public/activities.html", activities=listed, changed=changed)


@pages.get("/disclosure-statistics")
def statistics_page(request: Request, session: DB, year: str = "") -> Response:
    """One year's disclosure statistics, with the other years to choose from."""
    chosen: int | None = None
    if year.strip():
        chosen = whole_number(year)
        if chosen is None or not FIRST_YEAR <= chosen <= 2999:
            raise HTTPException(422, "year")
    found = _year_statistics(request, session, chosen)
    shown = sorted({found.year, *statistics.years(session)}, reverse=True)
    return page(
        request,
        "public/statistics.html",
        stats=found,
        years=shown,
        outcomes=statistics.OUTCOMES,
        timeliness=statistics.TIMELINESS,
    )
