"""What every step on a request shares: loading it, deciding the policy, ledgering, messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from access.disclosure.errors import RequestNotFound
from access.disclosure.models import DisclosureMessage, DisclosureRequest
from access.disclosure.transitions import Step, check
from access.models import Applicant
from access.policy import (
    Action,
    Context,
    Denied,
    Resource,
    Subject,
    decide,
    record,
    request_of,
    require,
)
from archive.db import claim_row


def resource_of_request(row: DisclosureRequest, **extra: object) -> Resource:
    """The policy's view of a request: its case, its applicant and its officer."""
    return request_of(
        "disclosure",
        case_no=row.case_no,
        owner=row.applicant.user.username,
        assignee=row.assignee.username if row.assignee else None,
        **extra,  # type: ignore[arg-type]
    )


def resource_of_extension(row: DisclosureRequest) -> Resource:
    """An extension request: its owner is the officer who asked for it."""
    requester = row.extension_requested_by.username if row.extension_requested_by else None
    return request_of("disclosure", case_no=row.case_no, owner=requester)


def load_request(session: Session, request_id: int, *, lock: bool = False) -> DisclosureRequest:
    """The request with its applicant, messages and items; `lock` holds it for a change."""
    query = (
        select(DisclosureRequest)
        .where(DisclosureRequest.id == request_id)
        .options(
            selectinload(DisclosureRequest.applicant).selectinload(Applicant.user),
            selectinload(DisclosureRequest.messages),
            selectinload(DisclosureRequest.items),
        )
    )
    if lock:  # a second officer deciding the same request waits, then reads the decided state
        claim_row(session, DisclosureRequest, request_id)
        query = query.with_for_update(of=DisclosureRequest).execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise RequestNotFound(request_id)
    return row


def permitted_request(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    action: Action,
    request_id: int,
    detail: dict[str, object] | None = None,
    lock: bool = True,
    **resource: object,
) -> DisclosureRequest:
    """Load a request (locked for a change, unlocked to read) and decide; a request that is not the
    applicant's own is 'not found'."""
    row = load_request(session, request_id, lock=lock)
    try:
        require(
            session,
            subject=subject,
            action=action,
            resource=resource_of_request(row, **resource),
            context=context,
            detail={"request": row.id, **(detail or {})},
        )
    except Denied as exc:
        if exc.decision.rule == "own-requests-only":  # another applicant's request: as if none
            raise RequestNotFound(request_id) from None
        raise
    return row


def ledger_step(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    action: Action,
    row: DisclosureRequest,
    detail: dict[str, object] | None = None,
    resource: Resource | None = None,
) -> None:
    """Ledger an allowed step with the request's code and status as it now stands."""
    resource = resource or resource_of_request(row)
    record(
        session,
        subject=subject,
        action=action,
        resource=resource,
        context=context,
        decision=decide(subject, action, resource, context),
        detail={
            "request": row.id,
            "tracking_code": row.tracking_code,
            "status": row.status,
            **(detail or {}),
        },
    )


def add_message(
    row: DisclosureRequest, *, kind: str, from_office: bool, author: str, body: str, at: datetime
) -> None:
    """Keep a message on the request (the applicant's tracking page shows them)."""
    row.messages.append(
        DisclosureMessage(kind=kind, from_office=from_office, author=author, body=body, created_at=at)
    )


def handling(
    session: Session, *, subject: Subject, context: Context, request_id: int, step: Step
) -> DisclosureRequest:
    """A request its assigned officer takes `step` on, which its status must allow."""
    row = permitted_request(
        session, subject=subject, context=context, action=Action.disclosure_handle, request_id=request_id
    )
    check(row, step)
    return row


def ledger_handling(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    row: DisclosureRequest,
    step: str,
    **detail: object,
) -> None:
    """Ledger one handling step (补正, 征求意见, 延期, 留言) with what it set."""
    ledger_step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_handle,
        row=row,
        detail={"step": step, **detail},
    )
