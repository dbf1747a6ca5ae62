"""The public JSON API (`/public/api/v1`): applicants register, sign in, file disclosure requests
(依申请公开), follow them, answer a correction notice and fetch what was released to them.

Thin over `access.applicants` and `access.disclosure`, which the public pages call too. It is
built from the public wiring alone: released copies come from the release realm, never the
archive realm. Cookie-authenticated POSTs carry the session's CSRF token in `X-CSRF-Token`;
bearer-token calls need none.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access import applicants, workdays
from access.disclosure import applicant_side, inputs
from access.disclosure.schemas import Delivery, ItemView, Relation, RequestView
from access.id_numbers import IdType
from access.identities import USERNAME
from access.models import Applicant, User
from access.policy import Context
from archive.errors import ObjectMissing, Refused
from portal.public.schemas import Registered, RequestDetail, Requests, RequestSummary
from portal.web.api import refused_field, service_errors
from portal.web.auth import (
    DB,
    PUBLIC,
    Principal,
    caller_at,
    check_csrf_header,
    client_address,
    password_token,
    public_wired_of,
)
from portal.web.params import RowId
from portal.web.ranges import content_headers, stream_object, wanted_range
from portal.web.schemas import ARCHIVED, PARTIAL, BearerToken, api_router, errors, file_answer

router = api_router(prefix="/api/v1", tag="public")
# Generous bounds on what a body may carry; the services apply the real limits and name the field.
MAX_TEXT = 4000


# --- who is calling ---------------------------------------------------------------------------


def optional_applicant(request: Request, session: DB) -> Principal | None:
    """The applicant calling the public portal, if signed in (bearer token or public cookie)."""
    return caller_at(PUBLIC, request, session)


def applicant(caller: Annotated[Principal | None, Depends(optional_applicant)]) -> Principal:
    """The applicant, who must be signed in at the public door."""
    if caller is None:
        raise HTTPException(401, "sign in first", headers={"WWW-Authenticate": "Bearer"})
    return caller


ApplicantCaller = Annotated[Principal, Depends(applicant)]


def service_context(request: Request) -> Context:
    """The policy context of a public call: when and from where (applicants hold no grants)."""
    return Context(now=public_wired_of(request).clock(), source=client_address(request))


def calendar(session: Session) -> workdays.WorkCalendar:
    """The working-day calendar the deadlines are counted on."""
    return workdays.load_calendar(session)


def root(request: Request) -> str:
    """Where the public app is mounted (`/public`), for links it hands out."""
    return str(request.scope.get("root_path", ""))


# --- errors -----------------------------------------------------------------------------------


def invalid(field: str, message: str, status: int = 422) -> HTTPException:
    """A refusal in the shape of a validation error, so clients read one format."""
    return HTTPException(status, [{"field": field, "message": message}])


@contextlib.contextmanager
def answering() -> Iterator[None]:
    """Service errors as HTTP answers: 403 naming the rule, 404, 409, and 422 naming the field in
    the shape of a validation error."""
    try:
        with service_errors():
            yield
    except Refused as exc:
        raise invalid(*refused_field(exc, default="request")) from exc


# --- bodies -----------------------------------------------------------------------------------


class RegisterBody(BaseModel):
    """A new applicant account (申请人注册)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    name: str = Field(max_length=128)
    id_type: IdType
    id_number: str = Field(max_length=64)
    phone: str = Field(max_length=32)
    email: str = Field(max_length=254)
    address: str | None = Field(default=None, max_length=512)


class DisclosureBody(BaseModel):
    """An information-disclosure request (政府信息公开申请)."""

    model_config = ConfigDict(extra="forbid")

    relation: Relation
    case_no: str | None = Field(default=None, max_length=inputs.LIMITS["case_no"])
    description: str = Field(max_length=inputs.LIMITS["description"])
    delivery: Delivery


class CorrectionBody(BaseModel):
    """The applicant's answer to a correction notice (补正)."""

    model_config = ConfigDict(extra="forbid")

    correction: str = Field(max_length=MAX_TEXT)


# --- registration ------------------------------------------------------------------------------


def username_taken(session: Session, username: str) -> bool:
    """Whether an account of that name exists (names compare as the service stores them)."""
    name = username.strip().lower()
    return (
        bool(USERNAME.match(name))
        and session.scalar(select(User.id).where(User.username == name)) is not None
    )


def register(request: Request, session: Session, fields: dict[str, Any]) -> Applicant:
    """Register an applicant and commit; a taken name is 409, bad input 422, both naming the field."""
    wired = public_wired_of(request)
    taken = invalid("username", f"{str(fields['username']).strip().lower()!r} is taken", 409)
    if username_taken(session, fields["username"]):
        raise taken
    with answering():
        found = applicants.register_applicant(
            session,
            **fields,
            id_number_key=wired.id_number_key,
            now=wired.clock(),
            source=client_address(request),
        )
    try:
        session.commit()
    except IntegrityError as exc:  # registered by someone else between the check and the commit
        session.rollback()
        raise taken from exc
    return found


@router.post(
    "/register", status_code=201, response_model=Registered, responses=errors(409, 413, 422)
)
def register_account(request: Request, session: DB, body: RegisterBody) -> dict[str, Any]:
    """Register as an applicant → 201 {username, name, id_type, id_number_masked}."""
    found = register(request, session, body.model_dump(mode="json"))
    return {
        "username": found.user.username,
        "name": found.name,
        "id_type": found.id_type,
        "id_number_masked": found.id_number_masked,
    }


@router.post("/token", response_model=BearerToken, responses=errors(401, 413, 422))
def token(
    request: Request,
    session: DB,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> dict[str, Any]:
    """Exchange an applicant's username and password for a bearer token; staff are refused (401)."""
    return password_token(PUBLIC, request, session, username=username, password=password)


# --- requests ---------------------------------------------------------------------------------


def item_url(request: Request, request_id: int, item_id: int) -> str:
    """Where the API streams one released item."""
    return f"{root(request)}/api/v1/disclosures/{request_id}/items/{item_id}"


def release_open(view: RequestView, now: datetime) -> bool:
    """Whether the released material may be seen now (the policy decides again on each view)."""
    return view.release_until is not None and now < view.release_until


def summary_json(view: RequestView) -> dict[str, Any]:
    """A request as the applicant's list shows it."""
    return {
        "id": view.id,
        "tracking_code": view.tracking_code,
        "status": view.status,
        "case_no": view.case_no,
        "received_on": view.received_on.isoformat(),
        "due_on": view.due_on.isoformat() if view.due_on else None,
        "due_estimated": bool(view.estimated_years),
        "estimated_years": list(view.estimated_years),
        "working_days_left": view.working_days_left,
        "decision": view.decision,
    }


def _item_json(request: Request, view: RequestView, item: ItemView) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "filename": item.filename,
        "media_type": item.media_type,
        "size": item.size,
        "sha256": item.sha256,
        "redacted": item.redacted,
        "url": item_url(request, view.id, item.id),
    }


def request_json(request: Request, view: RequestView) -> dict[str, Any]:
    """One request as its applicant sees it: status, deadlines, office messages, reply, released items."""
    now = public_wired_of(request).clock()
    return {
        **summary_json(view),
        "relation": view.relation,
        "description": view.description,
        "delivery": view.delivery,
        "clock_from": view.clock_from.isoformat(),
        "correction": {
            "asked_on": view.correction_asked_on.isoformat() if view.correction_asked_on else None,
            "asked": view.correction_asked,
            "correct_by": view.correct_by.isoformat() if view.correct_by else None,
            "corrected_on": view.corrected_on.isoformat() if view.corrected_on else None,
            "answer": view.correction,
        }
        if view.correction_asked_on
        else None,
        # Who the office consults stays internal; the applicant learns only that the clock paused.
        "consultation": {
            "from": view.consultation_from.isoformat(),
            "until": view.consultation_until.isoformat() if view.consultation_until else None,
            "ended_on": view.consultation_ended_on.isoformat() if view.consultation_ended_on else None,
        }
        if view.consultation_from
        else None,
        "extension": {"days": view.extension_days, "status": view.extension_status}
        if view.extension_status == "approved"
        else None,
        "messages": [
            {"kind": m.kind, "from_office": m.from_office, "body": m.body, "at": m.created_at.isoformat()}
            for m in view.messages
        ],
        "reply": {
            "decision": view.decision,
            "basis": view.decision_basis,
            "reasons": view.reasons,
            "decided_on": view.decided_on.isoformat() if view.decided_on else None,
        }
        if view.decision
        else None,
        "items": [_item_json(request, view, i) for i in view.items],
        "release_until": view.release_until.isoformat() if view.release_until else None,
        "release_open": release_open(view, now),
    }


def own_request(request: Request, session: Session, caller: Principal, request_id: int) -> RequestView:
    """The caller's own request; anyone else's is 404 (the refusal is ledgered)."""
    with answering():
        view = applicant_side.get_request(
            session,
            subject=caller.subject,
            context=service_context(request),
            calendar=calendar(session),
            request_id=request_id,
        )
    session.commit()  # a lapsed correction period withdrew the request while it was read
    return view


@router.post(
    "/disclosures",
    status_code=201,
    response_model=RequestSummary,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def submit(request: Request, session: DB, caller: ApplicantCaller, body: DisclosureBody) -> dict[str, Any]:
    """File a request (提交申请) → 201 {id, tracking_code, received_on, due_on, …}."""
    check_csrf_header(request, caller)
    view = applicant_step(
        request,
        session,
        caller,
        applicant_side.submit_request,
        relation=body.relation.value,
        case_no=body.case_no,
        description=body.description,
        delivery=body.delivery.value,
    )
    return summary_json(view)


@router.get("/disclosures", response_model=Requests, responses=errors(401, 403, 422))
def mine(request: Request, session: DB, caller: ApplicantCaller) -> dict[str, Any]:
    """The caller's own requests, newest first."""
    with answering():
        views = applicant_side.own_requests(
            session, subject=caller.subject, context=service_context(request), calendar=calendar(session)
        )
    session.commit()
    return {"requests": [summary_json(v) for v in views]}


@router.get(
    "/disclosures/{request_id}", response_model=RequestDetail, responses=errors(401, 403, 404, 422)
)
def detail(request: Request, session: DB, caller: ApplicantCaller, request_id: RowId) -> dict[str, Any]:
    """One of the caller's requests in full; anyone else's is 404."""
    return request_json(request, own_request(request, session, caller, request_id))


def applicant_step(
    request: Request, session: Session, caller: Principal, step: Callable[..., RequestView], **given: Any
) -> RequestView:
    """One step of the applicant's through the service (filing, correcting, withdrawing); commits."""
    with answering():
        view = step(
            session,
            subject=caller.subject,
            context=service_context(request),
            calendar=calendar(session),
            **given,
        )
    session.commit()
    return view


@router.post(
    "/disclosures/{request_id}/correction",
    response_model=RequestDetail,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def correction(
    request: Request, session: DB, caller: ApplicantCaller, request_id: RowId, body: CorrectionBody
) -> dict[str, Any]:
    """Answer the correction notice (补正) → the request with its new deadline."""
    check_csrf_header(request, caller)
    view = applicant_step(
        request,
        session,
        caller,
        applicant_side.answer_correction,
        request_id=request_id,
        correction=body.correction,
    )
    return request_json(request, view)


class WithdrawalBody(BaseModel):
    """Why the applicant withdraws the request (optional)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=MAX_TEXT)


@router.post(
    "/disclosures/{request_id}/withdrawal",
    response_model=RequestDetail,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def withdrawal(
    request: Request, session: DB, caller: ApplicantCaller, request_id: RowId, body: WithdrawalBody
) -> dict[str, Any]:
    """Withdraw a request not yet answered → the request, now withdrawn; 409 once answered."""
    check_csrf_header(request, caller)
    view = applicant_step(
        request, session, caller, applicant_side.withdraw_request, request_id=request_id, reason=body.reason
    )
    return request_json(request, view)


# --- released material ------------------------------------------------------------------------


def released_copy(
    request: Request,
    session: Session,
    caller: Principal,
    request_id: RowId,
    item_id: RowId,
    *,
    download: bool,
) -> Response:
    """Stream a released item from the release realm, after the view is decided and ledgered."""
    with answering():
        item = applicant_side.open_item(
            session,
            subject=caller.subject,
            context=service_context(request),
            request_id=request_id,
            item_id=item_id,
            download=download,
        )
    key, size, media_type, sha256, filename = item.key, item.size, item.media_type, item.sha256, item.filename
    session.commit()  # the view is in the ledger before a byte leaves
    wanted = None if download else wanted_range(request.headers.get("range"), size)
    media_type, shown = content_headers(media_type, filename, download=download)
    headers = {"ETag": f'"{sha256}"', "Cache-Control": "private, no-store", **shown}
    release = public_wired_of(request).release
    try:
        return stream_object(
            functools.partial(release.read, key),
            size=size,
            wanted=wanted,
            media_type=media_type,
            headers=headers,
        )
    except ObjectMissing as exc:
        raise HTTPException(404, "item: the released copy is no longer held") from exc


@router.get(
    "/disclosures/{request_id}/items/{item_id}",
    response_class=Response,
    responses={
        200: file_answer("The released copy's bytes, inline or as an attachment", *ARCHIVED),
        206: PARTIAL,
        **errors(401, 403, 404, 409, 416, 422),
    },
)
def released_item(
    request: Request,
    session: DB,
    caller: ApplicantCaller,
    request_id: RowId,
    item_id: RowId,
    download: bool = False,
) -> Response:
    """A released item's bytes (inline, or an attachment with `?download=true`), only in its release
    period (after it: 403, rule `release-period`); honours a single Range (206)."""
    return released_copy(request, session, caller, request_id, item_id, download=download)
