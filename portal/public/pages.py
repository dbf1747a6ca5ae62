"""The public portal's pages (公众门户): register, sign in and out, file a disclosure request,
follow it, answer a correction notice, see what was released, print the reply.

Every step calls the same functions as the public JSON API (`portal.public.api`), so a page never
allows what the API would refuse. Simplified Chinese first, English with `?lang=en`. Forms posted
before sign-in carry a double-submit CSRF token (cookie and field); forms posted after carry the
session's CSRF token. Bad input re-renders the form (422) with the message next to its field.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from access import identities
from access.disclosure import applicant_side
from access.disclosure.models import DisclosureStatus
from access.disclosure.schemas import Delivery, Relation, RequestView
from access.id_numbers import IdType
from archive.errors import ArchiveError, StoreUnavailable
from portal.public.api import (
    answering,
    applicant_step,
    calendar,
    own_request,
    register,
    release_open,
    released_copy,
    root,
    service_context,
)
from portal.web import auth
from portal.web.auth import DB, PUBLIC, Principal, authenticate_at
from portal.web.errors import RETRY_AFTER
from portal.web.i18n import choose_lang, label, policy_reason, refusal, render, translate
from portal.web.pages import SignInFirst
from portal.web.params import RowId
from portal.web.ranges import SHOWN_INLINE

LOGIN_CSRF_COOKIE = "csrf_public_login"
LOGIN_CSRF_AGE = 3600
REGISTER_FIELDS = ("name", "id_type", "id_number", "phone", "email", "address", "username", "password")
REQUEST_FIELDS = ("relation", "case_no", "description", "delivery")
# Remedies against a reply (告知救济途径): the Administrative Reconsideration and Litigation Laws.
PLAYABLE = ("video/", "audio/")


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PublicPageRoute(APIRoute):
    """A route whose errors are public pages, not JSON: refusals, not-found, bad input, outages."""

    def get_route_handler(self) -> Handler:
        """Wrap FastAPI's handler so errors of page routes become rendered pages."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInFirst as exc:
                target = f"{root(request)}/login?{urlencode({'next': exc.back_to})}"
                return RedirectResponse(target, status_code=303)
            except HTTPException as exc:
                return error_page(request, exc.status_code, exc.detail, cause=exc.__cause__)
            except RequestValidationError:
                return error_page(request, 422, None)
            except (OperationalError, StoreUnavailable):
                response = error_page(request, 503, None)
                response.headers["Retry-After"] = RETRY_AFTER
                return response

        return page_handler


# Sign-in and registration check their own double-submit pair (there is no session yet);
# everything else the session's CSRF token.
signin = APIRouter(include_in_schema=False, route_class=PublicPageRoute)
router = APIRouter(include_in_schema=False, route_class=PublicPageRoute, dependencies=[auth.PUBLIC_PAGE_CSRF])


# --- who is asking ----------------------------------------------------------------------------


def page_applicant(request: Request, session: DB) -> Principal:
    """The signed-in applicant, or a redirect to the sign-in page that comes back here."""
    caller = auth.caller_at(PUBLIC, request, session)
    if caller is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(back)
    request.state.applicant = caller
    return caller


PageApplicant = Annotated[Principal, Depends(page_applicant)]


def safe_next(request: Request, value: str | None) -> str:
    """A path of this portal to go back to after sign-in; anything else goes to "my requests"."""
    base = root(request)
    home = f"{base}/disclosures"
    if not value or "\\" in value or value.startswith("//") or not value.startswith(f"{base}/"):
        return home
    return value


# --- rendering --------------------------------------------------------------------------------


def human_size(size: int) -> str:
    """A byte count for people: 1.5 MB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> Response:
    """Render a public page inside the frame: the organisation and, when signed in, the applicant."""
    wired = auth.public_wired_of(request)
    caller: Principal | None = getattr(request.state, "applicant", None)
    me = None
    if caller is not None:
        me = {
            "name": caller.user.display_name,
            "username": caller.user.username,
            "csrf": caller.web.csrf_token if caller.web else "",
        }
    return render(
        request,
        template,
        status=status,
        organization=wired.settings.source_organization,
        root=root(request),
        me=me,
        human_size=human_size,
        **context,
    )


def error_page(request: Request, status: int, detail: Any, *, cause: BaseException | None = None) -> Response:
    """What went wrong, in words: a refusal names its rule; bad input lists the fields; a domain
    error behind it (`cause`) that has a code is said in the page's language."""
    lang, _ = choose_lang(request)
    rule = detail.get("rule", "") if isinstance(detail, dict) else ""
    reason = detail.get("reason", "") if isinstance(detail, dict) else ""
    problems = detail if isinstance(detail, list) else []
    message = detail if isinstance(detail, str) else ""
    explanation = ""
    if rule:
        explanation = label(lang, "public.rule", rule, otherwise="other")
    return page(
        request,
        "public/error.html",
        status=status,
        status_code=status,
        rule=rule,
        reason=policy_reason(lang, reason),
        explanation=explanation,
        problems=problems,
        message=message,
        said=refusal(lang, cause) if isinstance(cause, ArchiveError) and cause.code else "",
    )


def field_errors(lang: str, exc: HTTPException, known: tuple[str, ...], default: str) -> dict[str, str]:
    """`{field: message}` from an API-shaped 422/409 answer; unknown fields go to `default`. The
    domain refusal behind a one-field answer, when it has a code, says it in the page's language."""
    problems: Any = exc.detail
    if not isinstance(problems, list):
        problems = [{"field": default, "message": str(problems)}]
    cause = exc.__cause__
    coded = cause if isinstance(cause, ArchiveError) and cause.code and len(problems) == 1 else None
    errors: dict[str, str] = {}
    for problem in problems:
        field = problem["field"] if problem["field"] in known else default
        errors.setdefault(field, refusal(lang, coded, problem["message"]) if coded else problem["message"])
    return errors


# --- sign-in, registration, sign-out ----------------------------------------------------------


def _with_login_token(request: Request, template: str, *, status: int = 200, **context: Any) -> Response:
    """A form posted before sign-in, with its double-submit CSRF token in cookie and field."""
    token = auth.pre_session_token(request, LOGIN_CSRF_COOKIE)
    response = page(request, template, status=status, csrf=token, **context)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_AGE,
        path=root(request) or "/",
        httponly=True,
        secure=auth.public_wired_of(request).settings.cookie_secure,
        samesite="strict",
    )
    return response


def _signed_in(request: Request, session: Session, user: Any, target: str) -> Response:
    """A fresh public session, the pre-session token dropped, and on to `target` (303)."""
    response = RedirectResponse(target, status_code=303)
    auth.sign_in(response, session, request=request, user=user, door=PUBLIC)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=root(request) or "/")
    return response


def login_page(
    request: Request, *, status: int = 200, username: str = "", error: str | None = None, back_to: str = ""
) -> Response:
    """The applicants' sign-in form."""
    return _with_login_token(
        request,
        "public/login.html",
        status=status,
        username=username,
        error=error,
        next=safe_next(request, back_to),
    )


@signin.get("/login")
def login_form(request: Request, session: DB, next: str = "") -> Response:
    """The sign-in page; an applicant already signed in goes straight on."""
    caller = auth.caller_at(PUBLIC, request, session)
    if caller is not None and caller.web is not None:
        return RedirectResponse(safe_next(request, next), status_code=303)
    return login_page(request, back_to=next)


@signin.post("/login")
def login(
    request: Request,
    session: DB,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the CSRF pair, then the password (applicants only); start a fresh session (303)."""
    lang, _ = choose_lang(request)
    if not auth.same_pre_session_token(request, LOGIN_CSRF_COOKIE, csrf_token):
        error = translate(lang, "public.signin.csrf")
        return login_page(request, status=403, username=username, error=error, back_to=next)
    user = authenticate_at(PUBLIC, request, session, username=username, password=password)
    if user is None:
        settings = auth.public_wired_of(request).settings
        error = translate(
            lang, "public.signin.failed", attempts=settings.lockout_attempts, minutes=settings.lockout_minutes
        )
        return login_page(request, status=401, username=username, error=error, back_to=next)
    return _signed_in(request, session, user, safe_next(request, next))


@router.post("/logout")
def logout(request: Request, session: DB, caller: PageApplicant) -> Response:
    """End the session (the form must carry the session's CSRF token) and go to the sign-in page."""
    response = RedirectResponse(f"{root(request)}/login", status_code=303)
    auth.sign_out(response, session, request=request, door=PUBLIC)
    return response


def _register_form(
    request: Request, form: dict[str, str], *, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    return _with_login_token(
        request,
        "public/register.html",
        status=status,
        form=form,
        errors=errors or {},
        id_types=[t.value for t in IdType],
        min_password=identities.MIN_PASSWORD,
    )


@signin.get("/register")
def register_form(request: Request) -> Response:
    """The registration form (申请人注册)."""
    form = dict.fromkeys(REGISTER_FIELDS, "") | {"id_type": IdType.resident_id.value}
    return _register_form(request, form)


@signin.post("/register")
def register_account(
    request: Request,
    session: DB,
    csrf_token: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    id_type: Annotated[str, Form()] = "",
    id_number: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_confirm: Annotated[str, Form()] = "",
) -> Response:
    """Register, sign in and go to the new-request form (303); bad input → the form again (422)."""
    lang, _ = choose_lang(request)
    form = {
        "name": name,
        "id_type": id_type,
        "id_number": id_number,
        "phone": phone,
        "email": email,
        "address": address,
        "username": username,
    }
    if not auth.same_pre_session_token(request, LOGIN_CSRF_COOKIE, csrf_token):
        errors = {"form": translate(lang, "public.signin.csrf")}
        return _register_form(request, form, errors=errors, status=403)
    errors = {
        key: translate(lang, "public.err.required")
        for key in ("name", "id_number", "phone", "email", "username", "password")
        if not (password if key == "password" else form[key]).strip()
    }
    if password and password != password_confirm:
        errors["password_confirm"] = translate(lang, "public.err.password_confirm")
    if errors:
        return _register_form(request, form, errors=errors, status=422)
    try:
        found = register(request, session, {**form, "password": password, "address": address or None})
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        errors = field_errors(lang, exc, (*REGISTER_FIELDS, "form"), "form")
        return _register_form(request, form, errors=errors, status=exc.status_code)
    return _signed_in(request, session, found.user, f"{root(request)}/disclosures/new?registered=1")


# --- the applicant's requests -----------------------------------------------------------------


@router.get("/disclosures")
def my_requests(request: Request, session: DB, caller: PageApplicant) -> Response:
    """The applicant's requests, newest first, with where each stands."""
    with answering():
        views = applicant_side.own_requests(
            session, subject=caller.subject, context=service_context(request), calendar=calendar(session)
        )
    session.commit()  # lapsed corrections were withdrawn while reading
    return page(request, "public/mine.html", requests=views)


def _request_form(
    request: Request, form: dict[str, str], *, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    return page(
        request,
        "public/new.html",
        status=status,
        form=form,
        errors=errors or {},
        relations=[r.value for r in Relation],
        deliveries=[d.value for d in Delivery],
        registered=request.query_params.get("registered") == "1",
    )


@router.get("/disclosures/new")
def new_request_form(request: Request, caller: PageApplicant, case_no: str = "") -> Response:
    """The request form (政府信息公开申请表)."""
    form = {"relation": "", "case_no": case_no.strip(), "description": "", "delivery": Delivery.online.value}
    return _request_form(request, form)


@router.post("/disclosures/new")
def file_request(
    request: Request,
    session: DB,
    caller: PageApplicant,
    relation: Annotated[str, Form()] = "",
    case_no: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    delivery: Annotated[str, Form()] = "",
) -> Response:
    """File the request → 303 to its tracking page; bad input → the form again (422)."""
    lang, _ = choose_lang(request)
    form = {"relation": relation, "case_no": case_no, "description": description, "delivery": delivery}
    errors: dict[str, str] = {}
    for key in ("relation", "delivery"):
        if not form[key]:
            errors[key] = translate(lang, "public.err.choose")
    if not description.strip():
        errors["description"] = translate(lang, "public.err.required")
    if errors:
        return _request_form(request, form, errors=errors, status=422)
    try:
        view = applicant_step(
            request,
            session,
            caller,
            applicant_side.submit_request,
            relation=relation,
            case_no=case_no,
            description=description,
            delivery=delivery,
        )
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        errors = field_errors(lang, exc, REQUEST_FIELDS, "description")
        return _request_form(request, form, errors=errors, status=422)
    return RedirectResponse(f"{root(request)}/disclosures/{view.id}", status_code=303)


def _tracking(
    request: Request,
    view: RequestView,
    *,
    correction: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    now = auth.public_wired_of(request).clock()
    return page(
        request,
        "public/track.html",
        status=status,
        view=view,
        release_open=release_open(view, now),
        awaiting=view.status == DisclosureStatus.awaiting_correction,
        correction=correction,
        errors=errors or {},
        playable=PLAYABLE,
    )


@router.get("/disclosures/{request_id}")
def tracking_page(request: Request, session: DB, caller: PageApplicant, request_id: RowId) -> Response:
    """Where a request stands: status, deadline, the office's messages, the reply, released items."""
    return _tracking(request, own_request(request, session, caller, request_id))


@router.post("/disclosures/{request_id}/correction")
def answer_correction(
    request: Request,
    session: DB,
    caller: PageApplicant,
    request_id: RowId,
    correction: Annotated[str, Form()] = "",
) -> Response:
    """Send the correction (补正) → 303 back to the tracking page; an empty one → the page again (422)."""
    lang, _ = choose_lang(request)
    try:
        applicant_step(
            request,
            session,
            caller,
            applicant_side.answer_correction,
            request_id=request_id,
            correction=correction,
        )
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        view = own_request(request, session, caller, request_id)
        errors = field_errors(lang, exc, ("correction",), "correction")
        return _tracking(request, view, correction=correction, errors=errors, status=422)
    return RedirectResponse(f"{root(request)}/disclosures/{request_id}?corrected=1", status_code=303)


@router.post("/disclosures/{request_id}/withdrawal")
def withdraw_request(
    request: Request,
    session: DB,
    caller: PageApplicant,
    request_id: RowId,
) -> Response:
    """Withdraw the request (撤回申请) → 303 back to the tracking page."""
    applicant_step(request, session, caller, applicant_side.withdraw_request, request_id=request_id)
    return RedirectResponse(f"{root(request)}/disclosures/{request_id}", status_code=303)


# --- released material and the reply ----------------------------------------------------------


@router.get("/disclosures/{request_id}/items/{item_id}")
def item_page(
    request: Request, session: DB, caller: PageApplicant, request_id: RowId, item_id: RowId
) -> Response:
    """One released item: a PDF shown inline, a video played, anything else offered for download."""
    view = own_request(request, session, caller, request_id)
    item = next((i for i in view.items if i.id == item_id), None)
    if item is None:
        raise HTTPException(404, f"item: no released item {item_id} on this request")
    if not release_open(view, auth.public_wired_of(request).clock()):
        # Let the service refuse, so the refused view is in the ledger like any other.
        with answering():
            applicant_side.open_item(
                session,
                subject=caller.subject,
                context=service_context(request),
                request_id=request_id,
                item_id=item_id,
            )
    content = f"{root(request)}/disclosures/{request_id}/items/{item_id}/file"
    return page(
        request,
        "public/item.html",
        view=view,
        item=item,
        content_url=content,
        playable=item.media_type in SHOWN_INLINE and item.media_type.startswith(PLAYABLE),
        inline=item.media_type in SHOWN_INLINE,
    )


@router.get("/disclosures/{request_id}/items/{item_id}/file")
def item_file(
    request: Request,
    session: DB,
    caller: PageApplicant,
    request_id: RowId,
    item_id: RowId,
    download: bool = False,
) -> Response:
    """The item's bytes from the release realm; every fetch is ledgered as a view or a download."""
    return released_copy(request, session, caller, request_id, item_id, download=download)


@router.get("/disclosures/{request_id}/letter")
def reply_letter(request: Request, session: DB, caller: PageApplicant, request_id: RowId) -> Response:
    """The reply letter (政府信息公开申请答复告知书) to print: the office's own letter, word for word."""
    view = own_request(request, session, caller, request_id)
    if view.decision is None:
        raise HTTPException(404, "reply: this request has not been answered yet")
    return page(request, "public/letter.html", view=view)
