"""The registered-retrieval API (调取登记): requests, decisions, revocation, the register, notices.

Thin over `access.retrieval`, which the pages call too. Cookie-authenticated POSTs carry the
session's CSRF token in the `X-CSRF-Token` header; bearer-token calls need none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from access import notices, retrieval
from access.models import RetrievalRequest
from portal.internal.retrieval.notices import notice_text
from portal.internal.retrieval.schemas import Notices, Register, RegisterRow, RequestSummary
from portal.web.api import service_errors
from portal.web.auth import API_CSRF, DB, Caller, Principal, policy_context, wired_of
from portal.web.params import RowId
from portal.web.schemas import api_router, errors, file_answer

router = api_router(prefix="/api/v1", tag="retrieval", dependencies=[API_CSRF])


class RetrievalBody(BaseModel):
    """A retrieval request: which records of which case, why, on what basis, how and how long."""

    model_config = ConfigDict(extra="forbid")

    case_no: str = Field(max_length=retrieval.LIMITS["case_no"])
    record_ids: list[str] = Field(
        default_factory=list, max_length=500, description="empty: every record of the case"
    )
    purpose: str
    legal_basis: str
    actions: list[Literal["view", "download"]] = ["view"]
    days: int = Field(ge=1, le=retrieval.MAX_DAYS)


class DecisionBody(BaseModel):
    """Approve or refuse; a refusal needs a reason."""

    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason: str = ""


class RevokeBody(BaseModel):
    """Why the grant is revoked."""

    model_config = ConfigDict(extra="forbid")

    reason: str


def _summary(row: RetrievalRequest) -> dict[str, Any]:
    grant = row.grant
    return {
        "id": row.id,
        "status": row.status,
        "case_no": row.case_no,
        "bundle_id": row.bundle_id,
        "record_ids": row.record_ids,
        "actions": row.actions,
        "days": row.days,
        "grant_id": grant.id if grant else None,
        "grant_expires_at": grant.expires_at.isoformat() if grant else None,
        "revoked_at": grant.revoked_at.isoformat() if grant and grant.revoked_at else None,
    }


def _step(
    request: Request, session: Session, caller: Principal, step: Callable[..., RetrievalRequest], **given: Any
) -> dict[str, Any]:
    """One step of the workflow through the service, as the caller, committed; the request after it."""
    with service_errors():
        row = step(session, subject=caller.subject, context=policy_context(request, session, caller), **given)
    session.commit()
    return _summary(row)


@router.post(
    "/retrievals", status_code=201, response_model=RequestSummary, responses=errors(401, 403, 404, 413, 422)
)
def file_retrieval(request: Request, session: DB, caller: Caller, body: RetrievalBody) -> dict[str, Any]:
    """File a registered retrieval request (调取申请) → 201 {id, status}."""
    return _step(request, session, caller, retrieval.file_request, **body.model_dump())


@router.post(
    "/retrievals/{request_id}/decision",
    response_model=RequestSummary,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def decide_retrieval(
    request: Request, session: DB, caller: Caller, request_id: RowId, body: DecisionBody
) -> dict[str, Any]:
    """Approve or refuse a pending request (审批) → {id, status, grant_expires_at}."""
    return _step(
        request, session, caller, retrieval.decide_request, request_id=request_id, **body.model_dump()
    )


@router.post(
    "/retrievals/{request_id}/revoke",
    response_model=RequestSummary,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def revoke_retrieval(
    request: Request, session: DB, caller: Caller, request_id: RowId, body: RevokeBody
) -> dict[str, Any]:
    """Revoke the grant of an approved request at once (撤销授权)."""
    return _step(request, session, caller, retrieval.revoke_grant, request_id=request_id, **body.model_dump())


DateOrTime = AwareDatetime | date


def _register(
    request: Request,
    session: DB,
    caller: Principal,
    *,
    department: str | None,
    status: str | None,
    requester: str | None,
    case_no: str | None,
    since: DateOrTime | None,
    until: DateOrTime | None,
    limit: int,
    export: str | None = None,
) -> list[retrieval.RegisterRow]:
    with service_errors():
        rows = retrieval.read_register(
            session,
            subject=caller.subject,
            context=policy_context(request, session, caller),
            department=department,
            status=status,
            requester=requester,
            case_no=case_no,
            since=retrieval.day_start(since) if since else None,
            until=retrieval.day_start(until, after=True) if until else None,
            limit=limit,
            export=export,
        )
    session.commit()
    return rows


From = Annotated[
    DateOrTime | None, Query(alias="from", description="filed on or after: a date or aware time")
]
To = Annotated[
    DateOrTime | None, Query(alias="to", description="filed before the end of this date, or this time")
]
Limit = Annotated[int, Query(ge=1, le=5000)]


@router.get("/retrievals", response_model=Register, responses=errors(401, 403, 422))
def register(
    request: Request,
    session: DB,
    caller: Caller,
    department: str | None = None,
    status: str | None = None,
    requester: str | None = None,
    case_no: str | None = None,
    since: From = None,
    until: To = None,
    limit: Limit = 500,
) -> dict[str, Any]:
    """The retrieval register (调取登记簿), newest first: managers, archivists, security auditors."""
    rows = _register(
        request,
        session,
        caller,
        department=department,
        status=status,
        requester=requester,
        case_no=case_no,
        since=since,
        until=until,
        limit=limit,
    )
    return {"requests": [r.as_json() for r in rows], "count": len(rows)}


@router.get(
    "/retrievals.csv",
    response_class=Response,
    responses={
        200: file_answer("The register as CSV (UTF-8 with a byte-order mark), as an attachment", "text/csv"),
        **errors(401, 403, 422),
    },
)
def register_csv(
    request: Request,
    session: DB,
    caller: Caller,
    department: str | None = None,
    status: str | None = None,
    requester: str | None = None,
    case_no: str | None = None,
    since: From = None,
    until: To = None,
    limit: Limit = 5000,
) -> Response:
    """The register as CSV (UTF-8 with BOM, for Excel), with the accesses made under each grant."""
    rows = _register(
        request,
        session,
        caller,
        department=department,
        status=status,
        requester=requester,
        case_no=case_no,
        since=since,
        until=until,
        limit=limit,
        export="csv",
    )
    stamp = wired_of(request).clock().astimezone(retrieval.CHINA).strftime("%Y%m%d-%H%M")
    return Response(
        retrieval.register_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="retrieval-register-{stamp}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/retrievals/mine", response_model=Register, responses=errors(401, 403))
def my_retrievals(request: Request, session: DB, caller: Caller) -> dict[str, Any]:
    """The caller's own requests with their decisions and grants."""
    with service_errors():
        rows = retrieval.own_requests(session, subject=caller.subject, now=wired_of(request).clock())
    return {"requests": [r.as_json() for r in rows], "count": len(rows)}


@router.get(
    "/retrievals/{request_id}", response_model=RegisterRow, responses=errors(401, 403, 404, 422)
)
def retrieval_detail(request: Request, session: DB, caller: Caller, request_id: RowId) -> dict[str, Any]:
    """One request: for its requester, or for readers of the register."""
    with service_errors():
        row = retrieval.get_request(
            session,
            subject=caller.subject,
            context=policy_context(request, session, caller),
            request_id=request_id,
        )
    session.commit()
    return row.as_json()


@router.get("/notifications", response_model=Notices, responses=errors(401))
def notifications(request: Request, session: DB, caller: Caller) -> dict[str, Any]:
    """Everything the caller is told (as on the notifications page), each marked unread or not; reading
    them here marks nothing read."""
    found = notices.notices(session, subject=caller.subject, now=wired_of(request).clock())
    fresh = {notices.key(n) for n in notices.unread(session, subject=caller.subject, found=found)}
    said = [
        {**n.as_json(), "message": notice_text("zh", n), "unread": notices.key(n) in fresh} for n in found
    ]
    return {"notifications": said, "count": len(found), "unread": len(fresh)}


