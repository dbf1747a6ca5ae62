"""Internal portal pages (内部门户): sign-in, catalogue, case, record viewer, ledger.

Every page goes through the same services and the same policy calls as the JSON API (it calls
the functions in `portal.api`), so a page never shows what the API would refuse. Errors are
rendered as pages: a refusal names its rule and says how to ask for access.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import checkpoints, retrieval, workdays
from access.copy_jobs import CopyJob
from access.disclosure import reminders
from access.ledger import LedgerEntry, LedgerHead
from access.policy import Action, Context, Resource, collection, decide, permits, resource_of
from archive import catalogue
from archive.models import Bundle
from portal import api, auth, delivery, timeline
from portal.auth import DB, Principal, optional_principal, wired_of
from portal.i18n import CST, choose_lang, label, local_time, render, translate
from portal.params import Seq, SeqBelow
from retention import audits

STATIC = Path(__file__).resolve().parent / "static"
LOGIN_CSRF_COOKIE = "csrf_login"
LOGIN_CSRF_AGE = 3600
ACTIVITY_DAYS = 30
LEDGER_PAGE = 100
OUTCOMES = ("allowed", "denied", "ok", "failed", "damaged", "unavailable")
LEDGER_ACTIONS = (*(a.value for a in Action), "auth.login", "auth.session_start", "user.create")


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
                return error_page(request, exc.status_code, exc.detail)
            except RequestValidationError:
                return error_page(request, 422, None)

        return page_handler


router = APIRouter(include_in_schema=False, route_class=PageRoute)


def mount_static(app: FastAPI) -> None:
    """Serve the portal's CSS and scripts."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


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
        "ledger": permits(caller.subject, Action.ledger_read),
        "retrieval": permits(caller.subject, Action.retrieval_request),
        "decide": permits(caller.subject, Action.retrieval_decide),
        "register": permits(caller.subject, Action.register_read),
        "disclosures": permits(caller.subject, Action.disclosure_queue),
        "calendar": permits(caller.subject, Action.calendar_edit),
        "schedule": permits(caller.subject, Action.retention_schedule_read),
        "retention": permits(caller.subject, Action.disposition_read),
        "notices": notice_count(request, caller),
        "fixity": permits(caller.subject, Action.fixity_read),
        "alerts": alert_count(request, caller),
    }
    return frame


def alert_count(request: Request, caller: Principal) -> int:
    """Open fixity alerts, for those who watch fixity (the badge on the navigation's link)."""
    if not permits(caller.subject, Action.fixity_read):
        return 0
    with wired_of(request).sessions() as session:
        return audits.open_alert_count(session)


def notice_count(request: Request, caller: Principal) -> int:
    """How many retrieval notices and disclosure reminders the caller has (the badge in the navigation)."""
    wired = wired_of(request)
    with wired.sessions() as session:
        now = wired.clock()
        found = len(retrieval.notifications(session, subject=caller.subject, now=now))
        if permits(caller.subject, Action.disclosure_queue):  # the calendar only then
            calendar = workdays.load_calendar(session)
            found += len(reminders.reminders(session, subject=caller.subject, now=now, calendar=calendar))
        return found


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
    known = translate(lang, f"rule.{rule}") != f"rule.{rule}"
    return {
        "rule": rule,
        "rule_name": label(lang, "rule.name", rule) if rule else "",
        "explanation": translate(
            lang, f"rule.{rule}" if known else "rule.other", role=label(lang, "role", role)
        ),
        "reason": reason,
        "grant_would_allow": rule == "grant",  # then say how to file a retrieval request
    }


def error_page(request: Request, status: int, detail: Any, **context: Any) -> Response:
    """A refusal (403) or error page for any HTTP error a page route raised."""
    if status == 403:
        refusal = _refusal_context(request, detail)
        return page(request, "refusal.html", status=403, **refusal, **{"retrieval": False, **context})
    message = detail if isinstance(detail, str) else ""
    return page(request, "error.html", status=status, status_code=status, message=message)


# --- sign-in and sign-out -------------------------------------------------------------------


def login_page(
    request: Request, *, status: int = 200, username: str = "", error: str | None = None, back_to: str = "/"
) -> Response:
    """The sign-in form, with a fresh or kept double-submit CSRF token in cookie and field."""
    settings = wired_of(request).settings
    token = auth.pre_session_token(request, LOGIN_CSRF_COOKIE)
    response = page(
        request,
        "login.html",
        status=status,
        csrf=token,
        username=username,
        error=error,
        next=safe_next(back_to),
        sso=bool(settings.oidc_issuer),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_AGE,
        path="/login",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
    )
    return response


@router.get("/login")
def login_form(
    request: Request,
    caller: Annotated[Principal | None, Depends(optional_principal)],
    next: str = "/",
) -> Response:
    """The sign-in page; someone already signed in goes straight on."""
    if caller is not None and caller.web is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(request, back_to=next)


@router.post("/login")
def login(
    request: Request,
    session: DB,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the CSRF pair, then the password; start a fresh session and go on (303)."""
    lang, _ = choose_lang(request)
    if not auth.same_pre_session_token(request, LOGIN_CSRF_COOKIE, csrf_token):
        error = translate(lang, "login.csrf")
        return login_page(request, status=403, username=username, error=error, back_to=next)
    settings = wired_of(request).settings
    user = auth.authenticate_at(auth.INTERNAL, request, session, username=username, password=password)
    if user is None:
        error = translate(
            lang, "login.failed", attempts=settings.lockout_attempts, minutes=settings.lockout_minutes
        )
        return login_page(request, status=401, username=username, error=error, back_to=next)
    response = RedirectResponse(safe_next(next), status_code=303)
    auth.sign_in(response, session, request=request, user=user)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request, session: DB, caller: PageCaller, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """End the session (the form must carry the session's CSRF token) and go to the sign-in page."""
    auth.check_csrf(caller, csrf_token)
    response = RedirectResponse("/login", status_code=303)
    auth.sign_out(response, session, request=request)
    return response


# --- catalogue and case ---------------------------------------------------------------------


@router.get("/")
def catalogue_page(request: Request, session: DB, caller: PageCaller, q: str = "") -> Response:
    """The cases the caller may know of, searchable; auditors go to the ledger instead."""
    if not permits(caller.subject, Action.case_list) and permits(caller.subject, Action.ledger_read):
        return RedirectResponse("/ledger", status_code=303)
    listed = api.cases(request, session, caller, q=q.strip() or None)
    found = listed["cases"]
    lang, _ = choose_lang(request)
    for case in found:
        if case["withheld"]:
            case["title"] = translate(lang, "withheld.title")
    return page(request, "catalogue.html", cases=found, destroyed=listed["destroyed"], q=q)


def _record_path(bundle_id: str, record_id: str) -> str:
    """The page of one record."""
    return f"/bundles/{bundle_id}/records/{record_id}"


def viewable(request: Request, session: Session, caller: Principal, bundle: Bundle) -> set[str]:
    """Ids of the records the caller may open (the policy's answer, not ledgered until opened)."""
    context = auth.policy_context(request, session, caller)
    return {
        r.record_id
        for r in bundle.records
        if decide(caller.subject, Action.record_view, resource_of(bundle, r), context).allowed
    }


@router.get("/bundles/{bundle_id}")
def bundle_page(request: Request, session: DB, caller: PageCaller, bundle_id: str) -> Response:
    """A case: header, timeline picture and table, records, findings."""
    detail = api.bundle_detail(request, session, caller, bundle_id)
    bundle = api.bundle_or_404(session, bundle_id)
    openable = viewable(request, session, caller, bundle)
    lang, _ = choose_lang(request)
    if detail["withheld"]:
        detail["title"] = translate(lang, "withheld.title")
    if lang == "zh":  # bundles sealed before findings carried Chinese text keep their English
        detail["findings"] = [
            {**f, "message": f.get("message_zh") or f["message"]} for f in detail["findings"]
        ]
    picture = timeline.build(
        detail["case_no"],
        detail["records"],
        detail["findings"],
        href=lambda rid: _record_path(bundle.id, rid) if rid in openable else None,
        article=lambda n: translate(lang, "finding.article", n=n),
    )
    return page(
        request,
        "bundle.html",
        detail=detail,
        openable=openable,
        picture=picture,
        svg=timeline.timeline_svg(picture, partial(translate, lang)),
        stages=timeline.STAGES,
        record_path=_record_path,
        audit=audits.last_audit(session, bundle_id=bundle.id),
    )


@router.get("/bundles/{bundle_id}/records/{record_id}")
def record_page(
    request: Request, session: DB, caller: PageCaller, bundle_id: str, record_id: str
) -> Response:
    """Open a record (ledgered): PDF inline or video streamed, under a watermark naming the viewer."""
    bundle = api.bundle_or_404(session, bundle_id)
    found = catalogue.find_record(bundle, record_id)
    if found is None:  # whether a record exists is the bundle's metadata
        api.guard(request, session, caller, Action.bundle_read, resource_of(bundle))
        raise HTTPException(404, "no such record in this bundle")
    record, stored = found
    resource = resource_of(bundle, record)
    try:
        decision = api.guard(request, session, caller, Action.record_view, resource)
    except api.Denied as exc:
        return error_page(request, 403, exc.detail, retrieval=True, bundle_id=bundle_id, record_id=record_id)
    lang, _ = choose_lang(request)
    user = caller.user
    unit = label(lang, "department", user.department) if user.department else label(lang, "role", user.role)
    content = request.app.url_path_for("record_content", bundle_id=bundle.id, record_id=record.record_id)
    context = auth.policy_context(request, session, caller)
    # Without the original the viewer sees a copy marked on the server: footage waits for its
    # rendition (this starts it); what cannot be marked is not shown at all.
    original = delivery.gets_original(caller, resource, context)
    preparing = None
    if not original and record.kind == "av":
        prepared = delivery.rendition_or_job(
            request,
            session,
            caller,
            bundle=bundle,
            record_=record,
            stored=stored,
            resource=resource,
            decision=decision,
            context=context,
        )
        preparing = prepared if isinstance(prepared, CopyJob) else None
    return page(
        request,
        "record.html",
        bundle=bundle,
        record=record,
        file_name=PurePosixPath(stored.path).name,
        is_pdf=stored.path.lower().endswith(".pdf"),
        content_url=str(content),
        viewable=original or delivery.markable(record, stored),
        preparing=preparing,
        can_download=original,
        can_copy=decide(caller.subject, Action.record_download, resource, context).allowed,
        watermark=translate(
            lang,
            "record.watermark",
            user=user.username,
            unit=unit,
            time=local_time(wired_of(request).clock(), seconds=True),
        ),
    )


# --- the ledger -----------------------------------------------------------------------------


def _day_bound(value: str, *, end: bool) -> datetime:
    """A form date (YYYY-MM-DD, China time) as the start of that day, or of the next for `end`."""
    text = value.strip()
    try:
        moment = datetime.combine(date.fromisoformat(text), time(), CST)
    except ValueError:
        moment = datetime.fromisoformat(text)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=CST)
        return moment
    return moment + timedelta(days=1) if end else moment


def _ledger_filters(values: dict[str, str], lang: str) -> tuple[dict[str, Any], list[str]]:
    """The API's search filters from the form, and a message for each value that does not parse."""
    filters: dict[str, Any] = {
        k: (values[k].strip() or None) for k in ("actor", "action", "outcome", "case_no")
    }
    errors = []
    for name in ("since", "until"):
        raw = values[name]
        filters[name] = None
        if raw.strip():
            try:
                filters[name] = _day_bound(raw, end=name == "until")
            except ValueError:
                errors.append(translate(lang, "ledger.bad_date", value=raw))
    return filters, errors


def activity(session: Session, *, now: datetime, days: int = ACTIVITY_DAYS) -> list[timeline.DayCount]:
    """Ledger entries per China-time day for the last `days` days, allowed vs refused."""
    last_day = now.astimezone(CST).date()
    start = datetime.combine(last_day - timedelta(days=days - 1), time(), CST)
    rows = session.execute(select(LedgerEntry.at, LedgerEntry.outcome).where(LedgerEntry.at >= start))
    return timeline.count_days(((at, outcome) for at, outcome in rows), last_day=last_day, days=days)


def last_verification(session: Session) -> dict[str, Any] | None:
    """The most recent full verification of the chain, as its ledger entry recorded it.

    `api.ledger_verify` ledgers each one when it ends (outcome ok or failed, the report under
    `result`); the (action, seq) index finds the newest without walking anything.
    """
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.action == Action.ledger_verify.value, LedgerEntry.outcome.in_(("ok", "failed")))
        .order_by(LedgerEntry.seq.desc())
        .limit(1)
    )
    entry = session.scalars(query).first()
    if entry is None:
        return None
    result = entry.detail.get("result")
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "result": result if isinstance(result, dict) else None,
        "error": entry.detail.get("error"),
        "duration_ms": entry.detail.get("duration_ms"),
    }


def _duration(lang: str, ms: Any) -> str:
    """How long a verification took, in milliseconds below a second, else in seconds."""
    if not isinstance(ms, int):
        return ""
    if ms < 1000:
        return translate(lang, "ledger.duration_ms", ms=ms)
    return translate(lang, "ledger.duration_s", s=f"{ms / 1000:.1f}")


def chain_status(request: Request, session: Session, caller: Principal) -> dict[str, Any]:
    """What the page says about the chain without walking it: the latest signed checkpoint, the
    ledger's head, the last full verification, and whether the caller may run one."""
    lang, _ = choose_lang(request)
    checkpoint = checkpoints.latest(session)
    head = session.get(LedgerHead, 1)
    verified = last_verification(session)
    if verified is not None:
        verified["duration"] = _duration(lang, verified["duration_ms"])
    return {
        "checkpoint": checkpoint,
        "head": head.seq if head else 0,
        "verified": verified,
        "may_verify": permits(caller.subject, Action.ledger_verify),
    }


@router.get("/ledger")
def ledger_page(
    request: Request,
    session: DB,
    caller: PageCaller,
    actor: str = "",
    action: str = "",
    outcome: str = "",
    case_no: str = "",
    since: str = "",
    until: str = "",
    before: SeqBelow = None,
) -> Response:
    """Search the ledger (security auditors), with 30 days of activity and the chain's status as
    last checked (latest signed checkpoint, last full verification): loading it walks no chain."""
    lang, _ = choose_lang(request)
    form = {
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "case_no": case_no,
        "since": since,
        "until": until,
    }
    filters, errors = _ledger_filters(form, lang)
    if errors:
        api.guard(request, session, caller, Action.ledger_read, collection("ledger"))
        found: dict[str, Any] = {"entries": [], "next_before": None}
    else:
        found = api.ledger_search(request, session, caller, **filters, before=before, limit=LEDGER_PAGE)
    chain = chain_status(request, session, caller)
    counts = activity(session, now=wired_of(request).clock())
    older = None
    if found["next_before"]:
        older = "?" + urlencode({**{k: v for k, v in form.items() if v}, "before": found["next_before"]})
    return page(
        request,
        "ledger.html",
        status=422 if errors else 200,
        form=form,
        errors=errors,
        entries=found["entries"],
        older=older,
        chain=chain,
        chart=timeline.activity_svg(counts, partial(translate, lang)),
        outcomes=OUTCOMES,
        actions=LEDGER_ACTIONS,
    )


@router.post("/ledger/verify")
def ledger_verify_now(
    request: Request, session: DB, caller: PageCaller, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Walk the whole chain now, as `GET /api/v1/ledger/verify` does (policy-checked and ledgered
    as `ledger.verify`, result included) → 303 to the ledger page, which shows that result."""
    auth.check_csrf(caller, csrf_token)
    api.ledger_verify(request, session, caller)
    return RedirectResponse("/ledger#verification", status_code=303)


@router.get("/ledger/{seq}")
def ledger_entry_page(request: Request, session: DB, caller: PageCaller, seq: Seq) -> Response:
    """One ledger entry in full, with its place in the hash chain."""
    found = api.ledger_search(request, session, caller, before=seq + 1, limit=1)["entries"]
    if not found or found[0]["seq"] != seq:
        raise HTTPException(404, "no such ledger entry")
    return page(request, "ledger_entry.html", entry=found[0])
