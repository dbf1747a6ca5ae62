"""The retention API: legal holds (冻结) and disposition lists (鉴定与销毁) with their certificates.

Thin over `portal.internal.retention.service`, which the pages and the command line call too. Cookie-
authenticated POSTs carry the session's CSRF token in the `X-CSRF-Token` header.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any, Literal

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from archive.errors import Refused
from portal.internal.retention import service as dispositions
from portal.internal.retention.schemas import Certificate, Dispositions, DispositionSummary, Hold, Holds
from portal.web.api import service_errors
from portal.web.auth import DB, Caller, check_csrf_header, policy_context, wired_of
from portal.web.params import RowId
from portal.web.schemas import api_router, errors
from retention import disposition, holds

router = api_router(prefix="/api/v1", tag="retention")


class HoldBody(BaseModel):
    """A hold on one case: under which mandate, and why."""

    model_config = ConfigDict(extra="forbid")

    case_no: str = Field(max_length=128)
    mandate: str = Field(max_length=64)
    reason: str = Field(max_length=holds.LIMITS["reason"])
    title: str = Field("", max_length=holds.LIMITS["title"])


class LiftBody(BaseModel):
    """Why a hold is lifted."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=holds.LIMITS["reason"])


class DispositionBody(BaseModel):
    """An appraisal: which due cases, what to do with them, and the archivist's opinion."""

    model_config = ConfigDict(extra="forbid")

    case_nos: list[str] = Field(min_length=1, max_length=disposition.MAX_CASES)
    action: Literal["destroy", "extend", "permanent"]
    opinion: str = Field(max_length=disposition.LIMITS["opinion"])
    years: int | None = Field(None, ge=1, le=disposition.MAX_YEARS, description="for extend")


class ApprovalBody(BaseModel):
    """A manager's approval (with the two witnesses of a destruction) or refusal."""

    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason: str = Field("", max_length=disposition.LIMITS["reason"])
    witnesses: list[str] = Field(default_factory=list, max_length=disposition.WITNESSES)


@contextlib.contextmanager
def retention_errors() -> Iterator[None]:
    """The policy's and the services' refusals as 403, 404, 409, and 422 naming the field."""
    with service_errors():
        try:
            yield
        except holds.NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        except holds.Conflict as exc:
            raise HTTPException(409, str(exc)) from exc
        except Refused as exc:
            raise HTTPException(422, str(exc)) from exc


@router.get("/holds", response_model=Holds, responses=errors(401, 403))
def list_holds(request: Request, session: DB, caller: Caller) -> dict[str, Any]:
    """Every legal hold, active and lifted, newest first."""
    with retention_errors():
        rows = dispositions.list_holds(
            session, subject=caller.subject, context=policy_context(request, session, caller)
        )
    session.commit()
    return {"holds": rows}


@router.post(
    "/holds", status_code=201, response_model=Hold, responses=errors(401, 403, 404, 409, 413, 422)
)
def place_hold(request: Request, session: DB, caller: Caller, body: HoldBody) -> dict[str, Any]:
    """Place a legal hold (冻结) on every version of a case → 201 the hold."""
    check_csrf_header(request, caller)
    with retention_errors():
        view = dispositions.place_hold(
            wired_of(request),
            session,
            subject=caller.subject,
            context=policy_context(request, session, caller),
            **body.model_dump(),
        )
    session.commit()
    return asdict(view)


@router.post(
    "/holds/{hold_id}/lift", response_model=Hold, responses=errors(401, 403, 404, 409, 413, 422)
)
def lift_hold(
    request: Request, session: DB, caller: Caller, hold_id: RowId, body: LiftBody
) -> dict[str, Any]:
    """Lift a hold with a reason (解除冻结)."""
    check_csrf_header(request, caller)
    with retention_errors():
        view = dispositions.lift_hold(
            wired_of(request),
            session,
            subject=caller.subject,
            context=policy_context(request, session, caller),
            hold_id=hold_id,
            reason=body.reason,
        )
    session.commit()
    return asdict(view)


@router.get("/dispositions", response_model=Dispositions, responses=errors(401, 403))
def list_dispositions(request: Request, session: DB, caller: Caller) -> dict[str, Any]:
    """What is due and every disposition list, newest first."""
    context = policy_context(request, session, caller)
    with retention_errors():
        dispositions.read(session, subject=caller.subject, context=context, what="lists")
    due = [item.as_json() for item in disposition.due(session, now=context.now)]
    rows = [dispositions.summary(r) for r in disposition.list_dispositions(session)]
    session.commit()
    return {"due": due, "dispositions": rows}


@router.post(
    "/dispositions",
    status_code=201,
    response_model=DispositionSummary,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def propose(request: Request, session: DB, caller: Caller, body: DispositionBody) -> dict[str, Any]:
    """An archivist proposes a disposition list (鉴定) → 201; 409 naming a held or not-yet-due case."""
    check_csrf_header(request, caller)
    with retention_errors():
        row = dispositions.propose(
            session,
            subject=caller.subject,
            context=policy_context(request, session, caller),
            **body.model_dump(),
        )
    session.commit()
    return dispositions.summary(row)


@router.post(
    "/dispositions/{disposition_id}/approvals",
    response_model=DispositionSummary,
    responses=errors(401, 403, 404, 409, 413, 422),
)
def approve(
    request: Request, session: DB, caller: Caller, disposition_id: RowId, body: ApprovalBody
) -> dict[str, Any]:
    """An archive manager approves or refuses; two different managers, neither the proposer."""
    check_csrf_header(request, caller)
    with retention_errors():
        row = dispositions.approve(
            wired_of(request),
            session,
            subject=caller.subject,
            context=policy_context(request, session, caller),
            disposition_id=disposition_id,
            **body.model_dump(),
        )
    session.commit()
    return dispositions.summary(row)


@router.get(
    "/dispositions/{disposition_id}/certificate",
    response_model=Certificate,
    responses=errors(401, 403, 404, 409, 422),
)
def certificate(request: Request, session: DB, caller: Caller, disposition_id: RowId) -> dict[str, Any]:
    """The destruction certificate (销毁清册): its claims and the JWS over them, checked by the JWKS."""
    with retention_errors():
        body = dispositions.certificate(
            session,
            subject=caller.subject,
            context=policy_context(request, session, caller),
            disposition_id=disposition_id,
        )
    session.commit()
    return body
