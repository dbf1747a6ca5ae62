"""Handling information-disclosure requests (依申请公开办理) in the internal portal: the queue and
its deadline picture, one request with the steps its state allows, the reply letter, and the
holiday table (节假日安排) the deadlines are counted on.

Every step calls `access.disclosure`, which asks the policy and ledgers; the pages only peek at
the policy to decide which forms to show. Forms carry the session's CSRF token; a successful
POST answers 303; bad input re-renders the request with the message next to its field (422), a
step the request's state does not allow re-renders it with the message on the form (409), and
policy refusals render the refusal page (403).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from functools import partial
from itertools import zip_longest
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import policy, workdays
from access.disclosure import applicant_side, deadlines, identity, office_side, replies, schemas
from access.disclosure.models import DisclosureStatus
from access.disclosure.schemas import NEEDS_BASIS, RELEASING, Basis, DecisionType, RequestView
from access.models import HolidayDay, Role, User
from access.policy import Action, collection, request_of
from archive.errors import ArchiveError, Refused
from portal.internal.disclosure import dashboard
from portal.web import api as web_api
from portal.web import auth
from portal.web.auth import DB, PAGE_CSRF, Principal, wired_of
from portal.web.i18n import choose_lang, refusal, translate
from portal.web.pages import PageCaller, PageRoute, may, page
from portal.web.params import RowId
from portal.wiring import id_number_private_keys

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])

SHOW = ("open", "closed", "all")
REDACTION_SLOTS = 3  # upload rows in the decision form (no script adds more)
CALENDAR_YEARS = 3  # this year, next year and the one after
# Each form's fields as the service names them in a refusal → the field's id on the page; a
# refusal naming no known field goes to the first.
FORMS: dict[str, dict[str, str]] = {
    "assign": {"officer": "officer"},
    "correction": {"what": "what", "within_days": "within_days"},
    "consultation": {"party": "party"},
    "consultation_end": {"reply": "reply"},
    "extension": {"reason": "extension_reason", "days": "extension_days"},
    "extension_decision": {"reason": "extension_decision_reason"},
    "message": {"body": "body"},
    "decision": {
        "reasons": "reasons",
        "decision": "decision",
        "basis": "basis",
        "record_ids": "record_ids",
        "redactions": "redactions",
        "filename": "redactions",
        "file": "redactions",
    },
}
# What one step needs besides the caller: the subject, the policy context and the calendar.
Step = Callable[[policy.Subject, policy.Context, workdays.WorkCalendar], object]


def _today(request: Request) -> date:
    return deadlines.office_day(wired_of(request).clock())


def _t(request: Request) -> Callable[..., str]:
    lang, _ = choose_lang(request)
    return partial(translate, lang)


def _href(request_id: int) -> str:
    return f"/disclosures/{request_id}"


# --- the queue and its picture -----------------------------------------------------------------


def _queue(
    request: Request, session: Session, caller: Principal, calendar: workdays.WorkCalendar, *, closed: bool
) -> list[RequestView]:
    with web_api.service_errors():
        views = office_side.queue(
            session,
            subject=caller.subject,
            context=auth.policy_context(request, session, caller),
            calendar=calendar,
            include_closed=closed,
        )
    session.commit()  # the queue withdraws lapsed corrections on the way
    return views


def _estimated(views: Sequence[RequestView]) -> list[int]:
    """Years some open deadline was only estimated for (no holiday table: Monday–Friday)."""
    return sorted({year for v in views if v.is_open for year in v.estimated_years})


def _picture(
    request: Request, views: Sequence[RequestView], calendar: workdays.WorkCalendar
) -> dashboard.DeadlineDrawing:
    return dashboard.deadline_drawing(views, calendar, _today(request), _t(request), href=_href)


@router.get("/disclosures")
def queue_page(request: Request, session: DB, caller: PageCaller, show: str = "open") -> Response:
    """Requests with their deadlines, soonest first (open, closed or all), the picture on top."""
    show = show if show in SHOW else "open"
    calendar = workdays.load_calendar(session)
    views = _queue(request, session, caller, calendar, closed=show != "open")
    open_views = [v for v in views if v.is_open]
    rows = {"open": open_views, "closed": [v for v in views if not v.is_open], "all": views}[show]
    return page(
        request,
        "disclosure/queue.html",
        rows=rows,
        show=show,
        shows=SHOW,
        estimated=_estimated(open_views),
        drawing=_picture(request, open_views, calendar),
        band=dashboard.band,
        left_text=partial(dashboard.days_left_text, t=_t(request)),
    )


@router.get("/disclosures/dashboard")
def dashboard_page(request: Request, session: DB, caller: PageCaller) -> Response:
    """The deadline picture on its own, with its data as a table."""
    calendar = workdays.load_calendar(session)
    views = _queue(request, session, caller, calendar, closed=False)
    return page(
        request,
        "disclosure/dashboard.html",
        drawing=_picture(request, views, calendar),
        bars=dashboard.bars(views),
        estimated=_estimated(views),
        left_text=partial(dashboard.days_left_text, t=_t(request)),
        today=_today(request),
    )


# --- one request -------------------------------------------------------------------------------


def _officers(session: Session) -> list[User]:
    """Active disclosure officers a manager may assign to."""
    query = select(User).where(User.role == Role.disclosure_officer.value, User.disabled.is_(False))
    return list(session.scalars(query.order_by(User.username)))


def _empty_forms() -> dict[str, dict[str, Any]]:
    return {
        "assign": {"officer": ""},
        "correction": {"what": "", "within_days": "10"},
        "consultation": {"party": ""},
        "consultation_end": {"reply": ""},
        "extension": {"days": "", "reason": ""},
        "extension_decision": {"reason": ""},
        "message": {"body": ""},
        "identity": {"reason": ""},
        "decision": {"decision": "", "basis": "", "reasons": "", "record_ids": [], "redaction_records": []},
    }


def _steps(request: Request, caller: Principal, view: RequestView) -> dict[str, bool]:
    """Which forms to show: what the policy would allow in the request's present state."""
    resource = request_of(
        "disclosure", case_no=view.case_no, owner=view.applicant_username, assignee=view.assignee
    )
    extension = request_of("disclosure", case_no=view.case_no, owner=view.extension_requested_by)
    handles = may(request, caller, Action.disclosure_handle, resource)
    status = view.status
    waiting_extension = view.extension_status == "requested"
    # assign_to None asks "to anyone" (a manager's reassignment); an officer may only take it
    reassigns = view.is_open and may(request, caller, Action.disclosure_assign, resource)
    extension_decision = policy.decide(
        caller.subject,
        Action.disclosure_extension_decide,
        extension,
        policy.Context(now=wired_of(request).clock()),
    )
    return {
        "take": view.is_open
        and not reassigns
        and may(request, caller, Action.disclosure_assign, replace(resource, assign_to=caller.user.username)),
        "assign": reassigns,
        "handles": handles,
        "correction": handles and status == DisclosureStatus.received and view.correction_asked_on is None,
        "consultation": handles and status == DisclosureStatus.received and view.consultation_from is None,
        "consultation_end": handles and status == DisclosureStatus.in_consultation,
        "extension": handles
        and status in (DisclosureStatus.received, DisclosureStatus.in_consultation)
        and view.extension_status is None,
        "extension_decision": waiting_extension and extension_decision.allowed,
        "own_extension": waiting_extension and extension_decision.rule == "own-request",
        "message": handles,
        "identity": may(request, caller, Action.disclosure_identity_reveal, resource),
        "decision": status == DisclosureStatus.received
        and may(request, caller, Action.disclosure_decide, resource),
        "letter": status == DisclosureStatus.decided,
    }


def _detail(
    request: Request,
    session: Session,
    caller: Principal,
    request_id: RowId,
    *,
    errors: dict[str, str] | None = None,
    forms: dict[str, dict[str, Any]] | None = None,
    status: int = 200,
    revealed: str | None = None,
) -> Response:
    calendar = workdays.load_calendar(session)
    context = auth.policy_context(request, session, caller)
    with web_api.service_errors():
        view = applicant_side.get_request(
            session, subject=caller.subject, context=context, calendar=calendar, request_id=request_id
        )
    session.commit()  # a lapsed correction period withdrew the request while it was read
    steps = _steps(request, caller, view)
    candidates: list[schemas.Candidate] = []
    if steps["decision"]:
        with web_api.service_errors():
            candidates = replies.candidates(
                session, subject=caller.subject, context=context, request_id=request_id
            )
    session.commit()
    return page(
        request,
        "disclosure/detail.html",
        status=status,
        row=view,
        steps=steps,
        today=_today(request),
        officers=_officers(session) if steps["assign"] else [],
        candidates=candidates,
        releasable=[c for c in candidates if c.releasable],
        decision_types=list(DecisionType),
        bases=list(Basis),
        needs_basis=[d.value for d in NEEDS_BASIS],
        slots=REDACTION_SLOTS,
        correction_days=deadlines.CORRECTION_PERIOD_DAYS,
        max_extension=deadlines.MAX_EXTENSION_DAYS,
        errors=errors or {},
        forms=_empty_forms() | (forms or {}),
        left_text=partial(dashboard.days_left_text, t=_t(request)),
        band=dashboard.band,
        revealed=revealed,
    )


@router.post("/disclosures/{request_id}/identity")
def reveal_identity(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The applicant's full ID number, to check their identity (核对身份): the assigned officer only,
    with a reason, ledgered → the request page showing it once (never cached); no reason → 422."""
    lang, _ = choose_lang(request)
    try:
        with web_api.service_errors():
            number = identity.reveal_id_number(
                session,
                subject=caller.subject,
                context=auth.policy_context(request, session, caller),
                request_id=request_id,
                reason=reason,
                keys=id_number_private_keys(wired_of(request).settings),
            )
    except Refused as exc:
        session.rollback()
        if exc.code == "field.required":
            message = translate(lang, "handling.identity.err.reason")
        else:
            message = refusal(lang, exc, web_api.refused_field(exc, default="reason")[1])
        errors = {"identity_reason": message}
        return _detail(
            request,
            session,
            caller,
            request_id,
            errors=errors,
            forms={"identity": {"reason": reason}},
            status=422,
        )
    session.commit()
    response = _detail(request, session, caller, request_id, revealed=number)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/disclosures/{request_id}")
def request_page(request: Request, session: DB, caller: PageCaller, request_id: RowId) -> Response:
    """One request: applicant, request, every deadline, messages, and the forms its state allows."""
    return _detail(request, session, caller, request_id)


def _run(
    request: Request,
    session: Session,
    caller: Principal,
    request_id: RowId,
    form: str,
    values: dict[str, Any],
    step: Step,
) -> Response:
    """Take one step → 303 to the request; refused input → 422, a conflicting state → 409."""
    lang, _ = choose_lang(request)
    try:
        with web_api.service_errors():
            step(
                caller.subject, auth.policy_context(request, session, caller), workdays.load_calendar(session)
            )
    except Refused as exc:
        session.rollback()
        fields = FORMS[form]
        name, message = web_api.refused_field(exc, known=tuple(fields), default=next(iter(fields)))
        message = refusal(lang, exc, message)
        return _detail(
            request,
            session,
            caller,
            request_id,
            errors={fields[name]: message},
            forms={form: values},
            status=422,
        )
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        session.rollback()
        _, _, message = str(exc.detail).partition(": ")
        cause = exc.__cause__
        said = refusal(lang, cause, message or exc.detail) if isinstance(cause, ArchiveError) else message
        errors = {f"{form}-form": translate(lang, "handling.err.conflict", message=said or exc.detail)}
        return _detail(request, session, caller, request_id, errors=errors, forms={form: values}, status=409)
    session.commit()
    return RedirectResponse(_href(request_id), status_code=303)


def _invalid(
    request: Request,
    session: Session,
    caller: Principal,
    request_id: RowId,
    form: str,
    values: dict[str, Any],
    errors: dict[str, str],
) -> Response:
    """The request again with the page's own input errors (before the service is asked)."""
    return _detail(request, session, caller, request_id, errors=errors, forms={form: values}, status=422)


def _whole(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


@router.post("/disclosures/{request_id}/assign")
def assign(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    officer: Annotated[str, Form()] = "",
) -> Response:
    """Give the request to an officer (分办); an officer sends their own name to take it."""
    values = {"officer": officer}

    def step(subject: policy.Subject, context: policy.Context, _calendar: workdays.WorkCalendar) -> None:
        office_side.assign(session, subject=subject, context=context, request_id=request_id, officer=officer)

    return _run(request, session, caller, request_id, "assign", values, step)


@router.post("/disclosures/{request_id}/correction")
def ask_correction(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    what: Annotated[str, Form()] = "",
    within_days: Annotated[str, Form()] = "",
) -> Response:
    """Send the one correction notice (补正告知): what to correct and within how many working days."""
    values = {"what": what, "within_days": within_days}
    low, high = deadlines.CORRECTION_PERIOD_DAYS
    days = _whole(within_days)
    if days is None or not low <= days <= high:
        message = translate(choose_lang(request)[0], "handling.err.within_days", low=low, high=high)
        return _invalid(request, session, caller, request_id, "correction", values, {"within_days": message})

    def step(subject: policy.Subject, context: policy.Context, calendar: workdays.WorkCalendar) -> None:
        office_side.ask_correction(
            session,
            subject=subject,
            context=context,
            calendar=calendar,
            request_id=request_id,
            what=what,
            within_days=days,
        )

    return _run(request, session, caller, request_id, "correction", values, step)


@router.post("/disclosures/{request_id}/consultation")
def start_consultation(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    party: Annotated[str, Form()] = "",
) -> Response:
    """Ask a third party (征求第三方意见); its 15 working days are not counted."""

    def step(subject: policy.Subject, context: policy.Context, calendar: workdays.WorkCalendar) -> None:
        office_side.start_consultation(
            session, subject=subject, context=context, calendar=calendar, request_id=request_id, party=party
        )

    return _run(request, session, caller, request_id, "consultation", {"party": party}, step)


@router.post("/disclosures/{request_id}/consultation/end")
def end_consultation(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    reply: Annotated[str, Form()] = "",
) -> Response:
    """Record the third party's answer (or silence); the clock runs again."""

    def step(subject: policy.Subject, context: policy.Context, calendar: workdays.WorkCalendar) -> None:
        office_side.end_consultation(
            session, subject=subject, context=context, calendar=calendar, request_id=request_id, reply=reply
        )

    return _run(request, session, caller, request_id, "consultation_end", {"reply": reply}, step)


@router.post("/disclosures/{request_id}/extension")
def request_extension(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    days: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Ask a manager for the one extension (延期答复) of up to 20 working days."""
    values = {"days": days, "reason": reason}
    count = _whole(days)
    if count is None or not 1 <= count <= deadlines.MAX_EXTENSION_DAYS:
        message = translate(
            choose_lang(request)[0], "handling.err.extension_days", high=deadlines.MAX_EXTENSION_DAYS
        )
        return _invalid(
            request, session, caller, request_id, "extension", values, {"extension_days": message}
        )

    def step(subject: policy.Subject, context: policy.Context, calendar: workdays.WorkCalendar) -> None:
        office_side.request_extension(
            session,
            subject=subject,
            context=context,
            calendar=calendar,
            request_id=request_id,
            days=count,
            reason=reason,
        )

    return _run(request, session, caller, request_id, "extension", values, step)


@router.post("/disclosures/{request_id}/extension/decision")
def decide_extension(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """A manager approves or refuses the extension (never their own); a refusal needs a reason."""
    values = {"reason": reason}
    if decision not in ("approve", "refuse"):
        message = translate(choose_lang(request)[0], "retrieval.err.decision")
        errors = {"extension_decision_reason": message}
        return _invalid(request, session, caller, request_id, "extension_decision", values, errors)

    def step(subject: policy.Subject, context: policy.Context, calendar: workdays.WorkCalendar) -> None:
        office_side.decide_extension(
            session,
            subject=subject,
            context=context,
            calendar=calendar,
            request_id=request_id,
            approve=decision == "approve",
            reason=reason,
        )

    return _run(request, session, caller, request_id, "extension_decision", values, step)


@router.post("/disclosures/{request_id}/message")
def send_message(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    body: Annotated[str, Form()] = "",
) -> Response:
    """A message to the applicant, shown on their tracking page."""

    def step(subject: policy.Subject, context: policy.Context, _calendar: workdays.WorkCalendar) -> None:
        office_side.send_message(session, subject=subject, context=context, request_id=request_id, body=body)

    return _run(request, session, caller, request_id, "message", {"body": body}, step)


def _redactions(
    records: Sequence[str], uploads: Sequence[UploadFile | str], lang: str
) -> tuple[list[schemas.Redaction], str | None]:
    """The upload rows that name both an original record and a file; an error for half-filled rows."""
    found, error = [], None
    for record_id, upload in zip_longest(records, uploads):
        # An empty file input arrives as an empty string, or as a file without a name.
        chosen = None if upload is None or isinstance(upload, str) or not upload.filename else upload
        if not record_id and chosen is None:
            continue  # an unused row
        if not record_id or chosen is None:
            error = translate(lang, "handling.err.redaction_pair")
            continue
        found.append(schemas.Redaction(record_id, chosen.filename or "", stream=chosen.file))
    return found, error


@router.post("/disclosures/{request_id}/decision")
def decide_request(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    decision: Annotated[str, Form()] = "",
    basis: Annotated[str, Form()] = "",
    reasons: Annotated[str, Form()] = "",
    record_ids: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    redaction_record: Annotated[list[str], Form()] = [],  # noqa: B006
    redaction_file: Annotated[list[UploadFile | str], File()] = [],  # noqa: B006
) -> Response:
    """The reply (答复, art. 36): its type, the basis for withholding, reasons, and what is released."""
    lang, _ = choose_lang(request)
    values = {
        "decision": decision,
        "basis": basis,
        "reasons": reasons,
        "record_ids": record_ids,
        "redaction_records": redaction_record,
    }
    errors: dict[str, str] = {}
    kind = DecisionType(decision) if decision in DecisionType.__members__ else None
    if kind is None:
        errors["decision"] = translate(lang, "handling.err.decision")
    # Fields the chosen type hides (basis, records, uploads) are not part of its reply.
    if kind not in NEEDS_BASIS:
        basis = ""
    elif basis not in Basis.__members__:
        errors["basis"] = translate(lang, "handling.err.basis")
    if not reasons.strip():
        errors["reasons"] = translate(lang, "retrieval.err.required")
    chosen = record_ids if kind in RELEASING else []
    redactions: list[schemas.Redaction] = []
    if kind is DecisionType.partly_released:
        redactions, problem = _redactions(redaction_record, redaction_file, lang)
        if problem:
            errors["redactions"] = problem
    if errors:
        return _invalid(request, session, caller, request_id, "decision", values, errors)
    assert kind is not None
    wired = wired_of(request)

    def step(subject: policy.Subject, context: policy.Context, calendar: workdays.WorkCalendar) -> None:
        replies.decide_request(
            session,
            subject=subject,
            context=context,
            calendar=calendar,
            archive=wired.store,
            release=wired.release,
            release_days=wired.settings.release_days,
            request_id=request_id,
            decision=kind.value,
            reasons=reasons,
            basis=basis or None,
            record_ids=chosen,
            redactions=redactions,
        )

    return _run(request, session, caller, request_id, "decision", values, step)


# --- the reply letter ----------------------------------------------------------------------------


@router.get("/disclosures/{request_id}/letter")
def reply_letter(request: Request, session: DB, caller: PageCaller, request_id: RowId) -> Response:
    """The reply letter (政府信息公开申请答复告知书) for printing on A4; 409 before the reply."""
    with web_api.service_errors():
        view = applicant_side.get_request(
            session,
            subject=caller.subject,
            context=auth.policy_context(request, session, caller),
            calendar=workdays.load_calendar(session),
            request_id=request_id,
        )
    session.commit()
    if view.decision is None:
        raise HTTPException(409, translate(choose_lang(request)[0], "handling.letter.not_yet"))
    return page(request, "disclosure/letter.html", row=view, printed_by=caller.user.username)


# --- the holiday table -------------------------------------------------------------------------


def _may_edit_calendar(request: Request, session: Session, caller: Principal) -> None:
    with web_api.service_errors():
        policy.require(
            session,
            subject=caller.subject,
            action=Action.calendar_edit,
            resource=collection("calendar"),
            context=auth.policy_context(request, session, caller),
        )


def _table_text(days: Sequence[HolidayDay]) -> str:
    """An entered table as the lines it was entered as."""
    return "\n".join(
        f"{d.day.isoformat()} {'work' if d.workday else 'off'} {d.name or ''}".rstrip() for d in days
    )


def _calendar_years(session: Session, today: date) -> list[int]:
    """This year through the year after next, and every year with an entered table."""
    entered = {y.year for y in workdays.entered_years(session)}
    return sorted({today.year + n for n in range(CALENDAR_YEARS)} | entered)


def _calendar_page(
    request: Request,
    session: Session,
    *,
    errors: dict[int, str] | None = None,
    texts: dict[int, str] | None = None,
    status: int = 200,
) -> Response:
    calendar = workdays.load_calendar(session)
    entered = {y.year: y for y in workdays.entered_years(session)}
    days: dict[int, list[HolidayDay]] = {}
    for day in session.scalars(select(HolidayDay).order_by(HolidayDay.day)):
        days.setdefault(day.year, []).append(day)
    years = [
        {
            "year": year,
            "source": calendar.source(year).value,
            "entered": entered.get(year),
            "days": days.get(year, []),
            "text": (texts or {}).get(year, _table_text(days.get(year, []))),
            "error": (errors or {}).get(year),
        }
        for year in _calendar_years(session, _today(request))
    ]
    return page(request, "disclosure/calendar.html", status=status, years=years)


@router.get("/calendar")
def calendar_page(request: Request, session: DB, caller: PageCaller) -> Response:
    """Each year's source of working days, the entered tables, and a form for the missing years."""
    _may_edit_calendar(request, session, caller)
    return _calendar_page(request, session)


@router.post("/calendar/{year}")
def enter_calendar(
    request: Request,
    session: DB,
    caller: PageCaller,
    year: int,
    table: Annotated[str, Form()] = "",
) -> Response:
    """Enter (or replace) a year's holiday table → 303; a bad line → the page again with its number, 422."""
    _may_edit_calendar(request, session, caller)
    if year not in _calendar_years(session, _today(request)):
        raise HTTPException(404, f"year: {year} is not offered for entry")
    lang, _ = choose_lang(request)
    if not table.strip():  # an empty table would silently make the year "entered" as plain Mon–Fri
        errors = {year: translate(lang, "calendar.err.empty")}
        return _calendar_page(request, session, errors=errors, texts={year: table}, status=422)
    try:
        workdays.enter_holiday_table(
            session,
            year=year,
            text=table,
            actor=caller.user.username,
            now=wired_of(request).clock(),
            source=auth.client_address(request),
        )
    except Refused as exc:
        session.rollback()
        errors = {year: refusal(lang, exc)}
        return _calendar_page(request, session, errors=errors, texts={year: table}, status=422)
    session.commit()
    return RedirectResponse("/calendar", status_code=303)
