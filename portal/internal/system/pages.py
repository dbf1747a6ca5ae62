"""The system administrator's start page (系统设置): the holiday table and the retention schedule
(their own pages, linked), the signing keys in use (read-only) and the health of the database and
the stores. No account is managed here: that is the security administrator's (三员分立).

The page is drawn whatever is down; while a backing service is unreachable it answers 503 with
Retry-After, so a monitor reading the status learns the same as the person reading the page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from access import activities, workdays
from access.policy import Action, collection, permits
from portal.internal.system import operations
from portal.web import health
from portal.web.api import guard
from portal.web.auth import DB, PAGE_CSRF, wired_of
from portal.web.errors import RETRY_AFTER
from portal.web.pages import PageCaller, PageRoute, page
from retention import service as retention

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])


@router.get("/admin/settings")
def settings_page(request: Request, session: DB, caller: PageCaller) -> Response:
    """Holiday table, retention schedule, signing keys and health, on one page."""
    guard(request, session, caller, Action.settings_read, collection("settings"))
    wired = wired_of(request)
    now = wired.clock()
    checks = health.health(wired)
    down = [c.name for c in checks if not c.reachable]
    schedule = retention.current_version(session)
    response = page(
        request,
        "system/settings.html",
        status=503 if down else 200,
        health=checks,
        down=down,
        keys=operations.signing_keys(session, keyring=wired.keyring, now=now),
        years=[y.year for y in workdays.entered_years(session)],
        schedule=schedule,
        rules=len(schedule.rules) if schedule else 0,
        may_calendar=permits(caller.subject, Action.calendar_edit),
        may_schedule=permits(caller.subject, Action.retention_schedule_edit),
        activities=len(activities.published(session)),
        may_activities=permits(caller.subject, Action.activities_edit),
    )
    if down:
        response.headers["Retry-After"] = RETRY_AFTER
    return response
