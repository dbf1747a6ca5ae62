"""Registered-retrieval pages (调取登记): request form, own requests, the managers' queue and
decisions, the register with its print view, notifications, and the no-script copy download.

Every step calls the same services as the JSON API (`access.retrieval`,
`portal.internal.archive.copies`), so a page never allows what the API would refuse. Forms
carry the session's CSRF token; a successful POST answers 303; bad input re-renders the form
with the message next to its field (422); policy refusals render the refusal page (403).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from access import notices, policy, retrieval
from access.models import RequestStatus
from access.policy import Action, collection, decide, request_of, resource_of
from archive.errors import Refused
from archive.models import Bundle
from archive.service import latest_bundle
from portal.internal.archive import copies as copy_routes
from portal.internal.retrieval.notices import notice_href, notice_text
from portal.web import api as web_api
from portal.web import auth
from portal.web.auth import DB, PAGE_CSRF, Principal, wired_of
from portal.web.i18n import choose_lang, refusal, translate
from portal.web.pages import PageCaller, PageRoute, error_page, page
from portal.web.params import RowId

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])

FORM_FIELDS = ("case_no", "record_ids", "purpose", "legal_basis", "actions", "days")
STATUSES = tuple(s.value for s in RequestStatus)


def _bundle_titles(session: Session, bundle_id: str) -> dict[str, str]:
    bundle = session.get(Bundle, bundle_id)
    return {r.record_id: r.title for r in bundle.records} if bundle else {}


# --- the request form ------------------------------------------------------------------------


def _choosable(request: Request, session: Session, caller: Principal, bundle: Bundle) -> list[dict[str, Any]]:
    """Records offered in the form: those the policy lets the caller choose, record by record
    (no grant needed: the grant is what is being asked for; clearance still hides state secrets).
    Showing the case's records is ledgered once, for the bundle."""
    context = auth.policy_context(request, session, caller)
    policy.enforce(
        session,
        subject=caller.subject,
        action=Action.retrieval_choose,
        resource=resource_of(bundle),
        context=context,
    )
    session.commit()
    return [
        {"id": r.record_id, "title": r.title, "kind": r.kind, "classification": r.classification}
        for r in bundle.records
        if decide(caller.subject, Action.retrieval_choose, resource_of(bundle, r), context).allowed
    ]


def _request_form(
    request: Request,
    session: Session,
    caller: Principal,
    form: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    bundle = latest_bundle(session, form["case_no"]) if form["case_no"] else None
    records = _choosable(request, session, caller, bundle) if bundle else []
    return page(
        request,
        "retrieval/new.html",
        status=status,
        form=form,
        errors=errors or {},
        records=records,
        bundle=bundle,
        max_days=retrieval.MAX_DAYS,
        department=caller.user.department,
    )


def _may_file(request: Request, session: Session, caller: Principal) -> None:
    """Refuse (ledgered) whoever may not file a retrieval request at all."""
    with web_api.service_errors():
        policy.require(
            session,
            subject=caller.subject,
            action=Action.retrieval_request,
            resource=request_of("retrieval", case_no=None, owner=caller.user.username),
            context=auth.policy_context(request, session, caller),
        )


@router.get("/retrievals/new")
def request_form(
    request: Request,
    session: DB,
    caller: PageCaller,
    bundle_id: str = "",
    record_id: str = "",
    case_no: str = "",
) -> Response:
    """The retrieval request form, for the case of `bundle_id` (or `case_no`), `record_id` ticked."""
    _may_file(request, session, caller)
    if bundle_id and not case_no:
        bundle = session.get(Bundle, bundle_id)
        if bundle is None:
            raise HTTPException(404, "no such bundle")
        case_no = bundle.case.case_no
    form: dict[str, Any] = {
        "case_no": case_no.strip(),
        "record_ids": [record_id] if record_id else [],
        "purpose": "",
        "legal_basis": "",
        "actions": ["view"],
        "days": "7",
    }
    return _request_form(request, session, caller, form)


@router.post("/retrievals/new")
def file_request(
    request: Request,
    session: DB,
    caller: PageCaller,
    case_no: Annotated[str, Form()] = "",
    record_ids: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    purpose: Annotated[str, Form()] = "",
    legal_basis: Annotated[str, Form()] = "",
    actions: Annotated[list[str], Form()] = [],  # noqa: B006
    days: Annotated[str, Form()] = "",
) -> Response:
    """File the request (调取申请) → 303 to its page; bad input → the form again, 422."""
    lang, _ = choose_lang(request)
    form: dict[str, Any] = {
        "case_no": case_no.strip(),
        "record_ids": record_ids,
        "purpose": purpose,
        "legal_basis": legal_basis,
        "actions": actions or ["view"],
        "days": days,
    }
    errors: dict[str, str] = {}
    try:
        period = int(days.strip())
        if not 1 <= period <= retrieval.MAX_DAYS:
            raise ValueError
    except ValueError:
        period = 0
        errors["days"] = translate(lang, "retrieval.err.days", max=retrieval.MAX_DAYS)
    for name in ("case_no", "purpose", "legal_basis"):
        if not form[name].strip():
            errors[name] = translate(lang, "retrieval.err.required")
    if errors:
        return _request_form(request, session, caller, form, errors=errors, status=422)
    try:
        row = retrieval.file_request(
            session,
            subject=caller.subject,
            context=auth.policy_context(request, session, caller),
            case_no=form["case_no"],
            record_ids=record_ids,
            purpose=purpose,
            legal_basis=legal_basis,
            actions=form["actions"],
            days=period,
        )
    except policy.Denied as exc:  # before `Refused`, which would catch NotFound as bad input
        raise web_api.Denied(exc.decision) from exc
    except Refused as exc:
        session.rollback()
        name, message = web_api.refused_field(exc, known=FORM_FIELDS, default="case_no")
        errors = {name: refusal(lang, exc, message)}
        return _request_form(request, session, caller, form, errors=errors, status=422)
    session.commit()
    return RedirectResponse(f"/retrievals/{row.id}", status_code=303)


# --- own requests ----------------------------------------------------------------------------


@router.get("/retrievals/mine")
def my_requests(request: Request, session: DB, caller: PageCaller) -> Response:
    """The caller's requests: status, decision, reason, grant period, links to granted records."""
    rows = retrieval.own_requests(session, subject=caller.subject, now=wired_of(request).clock())
    titles = {b: _bundle_titles(session, b) for b in {r.bundle_id for r in rows}}
    return page(request, "retrieval/mine.html", rows=rows, titles=titles)


# --- the managers' queue and one request -------------------------------------------------------


def _read_register(request: Request, session: Session, caller: Principal, **filters: Any) -> list[Any]:
    with web_api.service_errors():
        rows = retrieval.read_register(
            session, subject=caller.subject, context=auth.policy_context(request, session, caller), **filters
        )
    session.commit()
    return rows


@router.get("/retrievals/pending")
def pending_queue(request: Request, session: DB, caller: PageCaller) -> Response:
    """Requests waiting for a decision, oldest first."""
    rows = _read_register(request, session, caller, status=RequestStatus.pending.value)
    rows.reverse()
    return page(request, "retrieval/pending.html", rows=rows)


def _detail(
    request: Request,
    session: Session,
    caller: Principal,
    request_id: RowId,
    *,
    errors: dict[str, str] | None = None,
    reason: str = "",
    status: int = 200,
) -> Response:
    with web_api.service_errors():
        row = retrieval.get_request(
            session,
            subject=caller.subject,
            context=auth.policy_context(request, session, caller),
            request_id=request_id,
        )
    session.commit()
    now = wired_of(request).clock()
    resource = request_of("retrieval", case_no=row.case_no, owner=row.requester, bundle_id=row.bundle_id)
    context = policy.Context(now=now)
    own = row.requester == caller.user.username
    may_decide = decide(caller.subject, Action.retrieval_decide, resource, context).allowed
    may_revoke = decide(caller.subject, Action.retrieval_revoke, resource, context).allowed
    return page(
        request,
        "retrieval/detail.html",
        status=status,
        row=row,
        titles=_bundle_titles(session, row.bundle_id),
        own=own,
        can_decide=may_decide and row.status == RequestStatus.pending.value,
        own_pending=own and row.status == RequestStatus.pending.value,
        can_revoke=may_revoke and row.state == "active",
        errors=errors or {},
        reason=reason,
    )


@router.get("/retrievals/{request_id}")
def request_detail(request: Request, session: DB, caller: PageCaller, request_id: RowId) -> Response:
    """One request with its decision, grant and accesses; the decision and revoke forms."""
    return _detail(request, session, caller, request_id)


def _reason_error(lang: str, exc: Refused) -> str:
    """A refusal of a decision or revocation, said next to its reason field."""
    _, message = web_api.refused_field(exc, known=("reason",), default="reason")
    if exc.code == "field.required":
        return translate(lang, "retrieval.err.reason")
    return refusal(lang, exc, message)


@router.post("/retrievals/{request_id}/decision")
def decide_request(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Approve or refuse (审批) → 303 to the request; a refusal without a reason → 422."""
    lang, _ = choose_lang(request)
    if decision not in ("approve", "refuse"):
        errors = {"decision": translate(lang, "retrieval.err.decision")}
        return _detail(request, session, caller, request_id, errors=errors, reason=reason, status=422)
    try:
        with web_api.service_errors():
            retrieval.decide_request(
                session,
                subject=caller.subject,
                context=auth.policy_context(request, session, caller),
                request_id=request_id,
                approve=decision == "approve",
                reason=reason,
            )
    except Refused as exc:
        session.rollback()
        errors = {"reason": _reason_error(lang, exc)}
        return _detail(request, session, caller, request_id, errors=errors, reason=reason, status=422)
    session.commit()
    return RedirectResponse(f"/retrievals/{request_id}", status_code=303)


@router.post("/retrievals/{request_id}/revoke")
def revoke_grant(
    request: Request,
    session: DB,
    caller: PageCaller,
    request_id: RowId,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Revoke the grant at once (撤销授权) → 303; without a reason → 422."""
    lang, _ = choose_lang(request)
    try:
        with web_api.service_errors():
            retrieval.revoke_grant(
                session,
                subject=caller.subject,
                context=auth.policy_context(request, session, caller),
                request_id=request_id,
                reason=reason,
            )
    except Refused as exc:
        session.rollback()
        errors = {"revoke_reason": _reason_error(lang, exc)}
        return _detail(request, session, caller, request_id, errors=errors, status=422)
    session.commit()
    return RedirectResponse(f"/retrievals/{request_id}", status_code=303)


# --- the register ----------------------------------------------------------------------------


def _register(
    request: Request, session: Session, caller: Principal, values: dict[str, str]
) -> tuple[Any, ...]:
    """Rows for the filters, the messages for filters that do not parse, and the query string."""
    lang, _ = choose_lang(request)
    errors: dict[str, str] = {}
    bounds: dict[str, Any] = {}
    for name, key in (("from", "since"), ("to", "until")):
        raw = values[name].strip()
        if not raw:
            continue
        try:
            bounds[key] = retrieval.day_start(date.fromisoformat(raw), after=name == "to")
        except ValueError:
            errors[name] = translate(lang, "retrieval.err.date", value=raw)
    if values["status"] and values["status"] not in STATUSES:
        errors["status"] = translate(lang, "retrieval.err.status")
    query = urlencode({k: v.strip() for k, v in values.items() if v.strip()})
    if errors:
        web_api.guard(request, session, caller, Action.register_read, collection("register"))
        return [], errors, query
    filters = {k: (values[k].strip() or None) for k in ("department", "status", "requester", "case_no")}
    rows = _read_register(request, session, caller, **filters, **bounds)
    return rows, errors, query


def _filter_values(
    department: str, status: str, requester: str, case_no: str, since: str, until: str
) -> dict[str, str]:
    return {
        "department": department,
        "status": status,
        "requester": requester,
        "case_no": case_no,
        "from": since,
        "to": until,
    }


def register_filters(
    request: Request, department: str = "", status: str = "", requester: str = "", case_no: str = ""
) -> dict[str, str]:
    """The register's filters as the form sent them (`from` and `to` are Python keywords)."""
    return _filter_values(
        department,
        status,
        requester,
        case_no,
        request.query_params.get("from", ""),
        request.query_params.get("to", ""),
    )


Filters = Annotated[dict[str, str], Depends(register_filters)]


@router.get("/register")
def register_page(request: Request, session: DB, caller: PageCaller, values: Filters) -> Response:
    """The retrieval register (调取登记簿), filtered; accesses under each grant expandable."""
    rows, errors, query = _register(request, session, caller, values)
    return page(
        request,
        "retrieval/register.html",
        status=422 if errors else 200,
        rows=rows,
        form=values,
        errors=errors,
        statuses=STATUSES,
        csv_url="/api/v1/retrievals.csv" + (f"?{query}" if query else ""),
        print_url="/register/print" + (f"?{query}" if query else ""),
    )


@router.get("/register/print")
def register_print(request: Request, session: DB, caller: PageCaller, values: Filters) -> Response:
    """The register for printing: A4 landscape, no navigation."""
    rows, errors, _query = _register(request, session, caller, values)
    return page(
        request,
        "retrieval/register_print.html",
        status=422 if errors else 200,
        rows=rows,
        form=values,
        errors=errors,
        printed_at=wired_of(request).clock(),
        printed_by=caller.user.username,
    )


# --- notifications ---------------------------------------------------------------------------


@router.get("/notifications")
def notifications_page(request: Request, session: DB, caller: PageCaller) -> Response:
    """Everything the caller is told (requests and lists to decide, decisions, grants ending,
    disclosure requests new, given to them or due, failed audits), the new ones marked; viewing
    the page marks them all read, so the badge clears."""
    now = wired_of(request).clock()
    found = notices.notices(session, subject=caller.subject, now=now)
    fresh = {notices.key(n) for n in notices.unread(session, subject=caller.subject, found=found)}
    notices.mark_read(session, subject=caller.subject, found=found, now=now)
    session.commit()
    lang, _ = choose_lang(request)
    shown = [(n, notice_text(lang, n), notice_href(n), notices.key(n) in fresh) for n in found]
    return page(request, "retrieval/notifications.html", notices=shown)


# --- the watermarked copy without script -------------------------------------------------------


@router.post("/copies")
def copy_download(
    request: Request,
    session: DB,
    caller: PageCaller,
    bundle_id: Annotated[str, Form()] = "",
    record_id: Annotated[str, Form()] = "",
) -> Response:
    """Prepare a watermarked, fingerprinted copy in this request and send it (no script needed)."""
    try:
        return copy_routes.record_copy(request, session, caller, bundle_id, record_id)
    except web_api.Denied as exc:
        return error_page(request, 403, exc.detail, bundle_id=bundle_id, record_id=record_id)
