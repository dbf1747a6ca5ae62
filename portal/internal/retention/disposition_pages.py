"""Retention pages: what is due, the appraisal form, the managers' approval queue, legal holds,
and destruction certificates (list and printable A4 page).

Every step calls `portal.internal.retention.service`, as the JSON API does, so a page never
allows what the API would refuse. Forms carry the session's CSRF token; a successful POST
answers 303; a refusal renders the refusal (403) or error page naming what is wrong (404, 409, 422).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from access.policy import Action, permits
from archive.errors import Refused
from portal.internal.retention import service as dispositions
from portal.internal.retention.api import retention_errors
from portal.web import auth
from portal.web.auth import DB, PAGE_CSRF, wired_of
from portal.web.pages import PageCaller, PageRoute, page
from portal.web.params import RowId, whole_number
from retention import disposition, holds

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])


@router.get("/retention")
def overview(request: Request, session: DB, caller: PageCaller) -> Response:
    """What is due (with its holds), the appraisal form, the lists and the managers' queue."""
    context = auth.policy_context(request, session, caller)
    with retention_errors():
        dispositions.read(session, subject=caller.subject, context=context, what="lists")
    session.commit()
    due = disposition.due(session, now=context.now)
    rows = disposition.list_dispositions(session)
    me = caller.user.username
    queue = [
        r
        for r in rows
        if r.status == disposition.Status.proposed.value
        and r.proposed_by != me
        and all(a.manager != me for a in r.approvals)
    ]
    return page(
        request,
        "retention/overview.html",
        due=due,
        rows=rows,
        queue=queue if permits(caller.subject, Action.disposition_approve) else [],
        may_propose=permits(caller.subject, Action.disposition_propose),
        actions=[a.value for a in disposition.DispositionAction],
    )


@router.post("/retention/dispositions")
def propose(
    request: Request,
    session: DB,
    caller: PageCaller,
    case_nos: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    action: Annotated[str, Form()] = "destroy",
    years: Annotated[str, Form()] = "",
    opinion: Annotated[str, Form()] = "",
) -> Response:
    """Submit an appraisal (鉴定意见) → 303 to the overview."""
    with retention_errors():
        if not case_nos:
            raise Refused("case_nos: choose at least one case")
        dispositions.propose(
            session,
            subject=caller.subject,
            context=auth.policy_context(request, session, caller),
            case_nos=case_nos,
            action=action,
            opinion=opinion,
            years=whole_number(years),
        )
    session.commit()
    return RedirectResponse("/retention", status_code=303)


@router.post("/retention/dispositions/{disposition_id}/approvals")
def approve(
    request: Request,
    session: DB,
    caller: PageCaller,
    disposition_id: RowId,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    witness_1: Annotated[str, Form()] = "",
    witness_2: Annotated[str, Form()] = "",
) -> Response:
    """A manager approves (naming the two witnesses) or refuses → 303 to the overview."""
    with retention_errors():
        dispositions.approve(
            wired_of(request),
            session,
            subject=caller.subject,
            context=auth.policy_context(request, session, caller),
            disposition_id=disposition_id,
            approve=decision == "approve",
            reason=reason,
            witnesses=[witness_1, witness_2],
        )
    session.commit()
    return RedirectResponse("/retention", status_code=303)


@router.get("/retention/holds")
def hold_list(request: Request, session: DB, caller: PageCaller) -> Response:
    """Every hold, the form to place one, and a lift form beside each active one."""
    with retention_errors():
        rows = dispositions.list_holds(
            session, subject=caller.subject, context=auth.policy_context(request, session, caller)
        )
    session.commit()
    mandates = [m.value for m in holds.Mandate if m is not holds.Mandate.disclosure]
    return page(
        request,
        "retention/holds.html",
        rows=rows,
        mandates=mandates,
        may_place=permits(caller.subject, Action.holds_place),
    )


@router.post("/retention/holds")
def place(
    request: Request,
    session: DB,
    caller: PageCaller,
    case_no: Annotated[str, Form()] = "",
    mandate: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
) -> Response:
    """Place a hold → 303 to the list."""
    with retention_errors():
        dispositions.place_hold(
            wired_of(request),
            session,
            subject=caller.subject,
            context=auth.policy_context(request, session, caller),
            case_no=case_no.strip(),
            mandate=mandate,
            reason=reason,
            title=title,
        )
    session.commit()
    return RedirectResponse("/retention/holds", status_code=303)


@router.post("/retention/holds/{hold_id}/lift")
def lift(
    request: Request,
    session: DB,
    caller: PageCaller,
    hold_id: RowId,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Lift a hold with a reason → 303 to the list."""
    with retention_errors():
        dispositions.lift_hold(
            wired_of(request),
            session,
            subject=caller.subject,
            context=auth.policy_context(request, session, caller),
            hold_id=hold_id,
            reason=reason,
        )
    session.commit()
    return RedirectResponse("/retention/holds", status_code=303)


@router.get("/retention/certificates")
def certificates(request: Request, session: DB, caller: PageCaller) -> Response:
    """Every destruction certificate issued."""
    context = auth.policy_context(request, session, caller)
    with retention_errors():
        dispositions.read(session, subject=caller.subject, context=context, what="certificates")
    session.commit()
    rows = disposition.list_dispositions(session, status=disposition.Status.executed.value)
    return page(request, "retention/certificates.html", rows=[r for r in rows if r.certificate_no])


@router.get("/retention/certificates/{disposition_id}")
def certificate(request: Request, session: DB, caller: PageCaller, disposition_id: RowId) -> Response:
    """The destruction certificate (销毁清册) as a printable A4 page, with its JWS."""
    with retention_errors():
        body = dispositions.certificate(
            session,
            subject=caller.subject,
            context=auth.policy_context(request, session, caller),
            disposition_id=disposition_id,
        )
    session.commit()
    return page(request, "retention/certificate.html", cert=body["certificate"], jws=body["jws"])
