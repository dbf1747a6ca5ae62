"""What every internal page shares: the route class whose errors are pages, the signed-in
caller (or a redirect to sign in), the frame (name, role, the links the role may follow, badges),
and the refusal page that names its rule and says how to ask for access.

Every page goes through the same services and the same policy calls as the JSON API, so a page
never shows what the API would refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from access import notices
from access.models import Role
from access.policy import Action, Context, Resource, decide, permits
from archive.errors import ArchiveError
from portal.web.auth import Principal, optional_principal, wired_of
from portal.web.i18n import choose_lang, label, policy_reason, refusal, render
from retention import audits

STATIC = Path(__file__).resolve().parent.parent / "static"
FAVICON = STATIC / "favicon.svg"


class SignInFirst(Exception):
    """Raised by page dependencies when nobody is signed in: the page answers 303 to /login."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    """A route whose errors are pages, not JSON: refusals, not-found and bad input render HTML."""

    def get_route_handler(self) -> Handler:
        """Wrap FastAPI's handler so HTTP errors of page routes become rendered pages."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInFirst as exc:
                return RedirectResponse(f"/login?{urlencode({'next': exc.back_to})}", status_code=303)
            except HTTPException as exc:
                return error_page(request, exc.status_code, exc.detail, cause=exc.__cause__)
            except RequestValidationError:
                return error_page(request, 422, None)

        return page_handler


def mount_static(app: FastAPI) -> None:
    """Serve the portal's CSS and scripts."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def add_favicon(app: FastAPI) -> None:
    """Serve the portal's icon at `/favicon.ico` too, where browsers ask for it unprompted (the
    pages link `static/favicon.svg`)."""

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """The portal's icon (SVG)."""
        cache = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(FAVICON, media_type="image/svg+xml", headers=cache)


# --- who is asking --------------------------------------------------------------------------


def page_principal(
    request: Request, caller: Annotated[Principal | None, Depends(optional_principal)]
) -> Principal:
    """The signed-in caller, or a redirect to the sign-in page that comes back here."""
    if caller is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(back)
    request.state.caller = caller
    return caller


PageCaller = Annotated[Principal, Depends(page_principal)]


def may(request: Request, caller: Principal, action: Action, resource: Resource) -> bool:
    """Would the policy allow this? A peek for links and buttons; not ledgered, never a permission."""
    return decide(caller.subject, action, resource, Context(now=wired_of(request).clock())).allowed


# Where each role lands after signing in (the one place that says it): its own work, never a
# refusal. Applicants sign in at the public door; the others here.
START_PAGES: dict[Role, str] = {
    Role.archivist: "/",
    Role.archive_manager: "/",
    Role.supervisor: "/",
    Role.disclosure_officer: "/disclosures",
    Role.security_auditor: "/anomalies",
    Role.security_admin: "/admin/users",
    Role.sysadmin: "/admin/settings",
    Role.applicant: "/public/disclosures",
}


def start_page(role: str) -> str:
    """The page a role starts from (the catalogue for a role not listed)."""
    return START_PAGES.get(Role(role), "/") if role in Role.__members__ else "/"


def landing(role: str, next_path: str | None) -> str:
    """Where a sign-in goes on: the page asked for, or the role's start page when none was."""
    target = safe_next(next_path)
    return start_page(role) if target == "/" else target


def safe_next(value: str | None) -> str:
    """A local path to go back to after sign-in; anything else (other hosts, schemes) becomes `/`."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return "/"
    return value


# --- rendering ------------------------------------------------------------------------------


def _frame(request: Request) -> dict[str, Any]:
    """What the page frame shows: the organisation, and for a signed-in caller, name, role and links."""
    settings = wired_of(request).settings
    caller: Principal | None = getattr(request.state, "caller", None)
    frame: dict[str, Any] = {"organization": settings.source_organization, "user": None}
    if caller is None:
        return frame
    user = caller.user
    frame["user"] = {
        "username": user.username,
        "name": user.display_name,
        "role": user.role,
        "department": user.department,
        "csrf": caller.web.csrf_token if caller.web else "",
        "catalogue": permits(caller.subject, Action.case_list),
        "deposit": permits(caller.subject, Action.bundle_deposit),
        "ledger": permits(caller.subject, Action.ledger_read),
        "anomalies": permits(caller.subject, Action.anomaly_read),
        "retrieval": permits(caller.subject, Action.retrieval_request),
        "decide": permits(caller.subject, Action.retrieval_decide),
        "register": permits(caller.subject, Action.register_read),
        "disclosures": permits(caller.subject, Action.disclosure_queue),
        "calendar": permits(caller.subject, Action.calendar_edit),
        "schedule": permits(caller.subject, Action.retention_schedule_read),
        "retention": permits(caller.subject, Action.disposition_read),
        "start": start_page(user.role),
        "users": permits(caller.subject, Action.user_read),
        "settings": permits(caller.subject, Action.settings_read),
        "notices": notice_count(request, caller),
        "fixity": permits(caller.subject, Action.fixity_read),
        "alerts": alert_count(request, caller),
        "accountability": permits(caller.subject, Action.accountability_read),
    }
    return frame


def alert_count(request: Request, caller: Principal) -> int:
    """Open fixity alerts, for those who watch fixity (the badge on the navigation's link)."""
    if not permits(caller.subject, Action.fixity_read):
        return 0
    with wired_of(request).sessions() as session:
        return audits.open_alert_count(session)


def notice_count(request: Request, caller: Principal) -> int:
    """How many notices the caller has not read yet (the badge in the navigation)."""
    wired = wired_of(request)
    with wired.sessions() as session:
        found = notices.notices(session, subject=caller.subject, now=wired.clock())
        return len(notices.unread(session, subject=caller.subject, found=found))


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> Response:
    """Render an internal page inside the portal's frame."""
    return render(request, template, status=status, **_frame(request), **context)


def _refusal_context(request: Request, detail: Any) -> dict[str, Any]:
    """What the refusal page says: the rule, its explanation in the page's language, the reason."""
    rule = detail.get("rule", "") if isinstance(detail, dict) else ""
    reason = detail.get("reason", "") if isinstance(detail, dict) else str(detail or "")
    caller: Principal | None = getattr(request.state, "caller", None)
    role = caller.user.role if caller else ""
    lang, _ = choose_lang(request)
    return {
        "rule": rule,
        "rule_name": label(lang, "rule.name", rule) if rule else "",
        "explanation": label(lang, "rule", rule, otherwise="other", role=label(lang, "role", role)),
        "reason": policy_reason(lang, reason),
        "grant_would_allow": rule == "grant",  # then say how to file a retrieval request
    }


def _retrieval_url(request: Request, context: dict[str, Any]) -> str | None:
    """The retrieval request form prefilled with the case (and record) a refusal was about, for
    whoever may file one; None when the refusal was about no case."""
    caller: Principal | None = getattr(request.state, "caller", None)
    if caller is None or not permits(caller.subject, Action.retrieval_request):
        return None
    params = request.path_params
    prefill = {
        "bundle_id": context.get("bundle_id") or params.get("bundle_id"),
        "record_id": context.get("record_id") or params.get("record_id"),
        "case_no": context.get("case_no"),
    }
    if not prefill["bundle_id"] and not prefill["case_no"]:
        return None
    return "/retrievals/new?" + urlencode({k: v for k, v in prefill.items() if v})


def error_page(
    request: Request, status: int, detail: Any, *, cause: BaseException | None = None, **context: Any
) -> Response:
    """A refusal (403) or error page for any HTTP error a page route raised; a domain error
    behind it (`cause`) that has a code is also said in the page's language."""
    if status == 403:
        denial = _refusal_context(request, detail)
        shown = {"retrieval": False, **context}
        return page(
            request,
            "refusal.html",
            status=403,
            **denial,
            **shown,
            retrieval_url=_retrieval_url(request, shown),
        )
    message = detail if isinstance(detail, str) else ""
    problems = detail if isinstance(detail, list) else []
    lang, _ = choose_lang(request)
    said = refusal(lang, cause) if isinstance(cause, ArchiveError) and cause.code else ""
    shown = {"message": message, "problems": problems, "said": said}
    return page(request, "error.html", status=status, status_code=status, **shown)
