"""The applicant's side: filing a request, reading one's requests, answering a correction notice,
withdrawing, and opening a released item."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from access import applicants, workdays
from access.disclosure import texts
from access.disclosure.deadlines import office_day, refresh_due
from access.disclosure.errors import CorrectionPeriodEnded, ItemNotFound
from access.disclosure.inputs import choice, text
from access.disclosure.models import DisclosureRequest, ReleasedItem
from access.disclosure.schemas import Delivery, Relation, RequestView, request_view
from access.disclosure.steps import add_message, ledger_step, permitted_request, resource_of_request
from access.disclosure.sweeps import expire_corrections
from access.disclosure.transitions import INITIAL, Step, advance, check
from access.models import Applicant
from access.policy import Action, Context, Decision, Subject, collection, permits, record, require
from retention import holds

# Unambiguous on the phone: no 0/O, 1/I.
TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _tracking_code(session: Session, today: date) -> str:
    """A short code the applicant can quote on the phone: year and 8 unambiguous characters."""
    while True:
        code = f"GK{today.year}-" + "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(8))
        if (
            session.scalar(select(DisclosureRequest.id).where(DisclosureRequest.tracking_code == code))
            is None
        ):
            return code


def submit_request(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    relation: str,
    case_no: str | None,
    description: str,
    delivery: str,
) -> RequestView:
    """File a request (提交申请); it is received today and due 20 working days after."""
    require(
        session,
        subject=subject,
        action=Action.disclosure_submit,
        resource=collection("disclosure"),
        context=context,
    )
    assert subject.user_id is not None
    applicant = applicants.applicant_of(session, subject.user_id)
    relation = choice("relation", relation, Relation)
    delivery = choice("delivery", delivery, Delivery)
    description = text("description", description, limit="description")
    case_no = text("case_no", case_no, limit="case_no", required=False) or None
    today = office_day(context.now)
    row = DisclosureRequest(
        tracking_code=_tracking_code(session, today),
        applicant=applicant,
        relation=relation,
        case_no=case_no,
        description=description,
        delivery=delivery,
        status=INITIAL.value,
        received_on=today,
        clock_from=today,
        created_at=context.now,
    )
    refresh_due(calendar, row)
    session.add(row)
    session.flush()
    # While the request is open the case it names may not be destroyed (冻结).
    holds.open_for_request(
        session, case_no=case_no, request_id=row.id, tracking_code=row.tracking_code, now=context.now
    )
    ledger_step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_submit,
        row=row,
        detail={"due_on": row.due_on.isoformat() if row.due_on else None},
    )
    return request_view(row, calendar=calendar, today=today, full=False)


def get_request(
    session: Session, *, subject: Subject, context: Context, calendar: workdays.WorkCalendar, request_id: int
) -> RequestView:
    """One request; an applicant sees only their own (others are 'not found'), without internal notes.
    A correction period that has lapsed withdraws the request first; the read is ledgered and the
    caller commits."""
    expire_corrections(session, now=context.now, calendar=calendar)
    row = permitted_request(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_read,
        request_id=request_id,
        lock=False,
    )
    ledger_step(session, subject=subject, context=context, action=Action.disclosure_read, row=row)
    return request_view(
        row, calendar=calendar, today=office_day(context.now), full=permits(subject, Action.disclosure_queue)
    )


def own_requests(
    session: Session, *, subject: Subject, context: Context, calendar: workdays.WorkCalendar
) -> list[RequestView]:
    """An applicant's requests, newest first (lapsed corrections withdrawn first; the caller commits)."""
    assert subject.user_id is not None
    expire_corrections(session, now=context.now, calendar=calendar)
    applicant = applicants.applicant_of(session, subject.user_id)
    rows = session.scalars(
        select(DisclosureRequest)
        .where(DisclosureRequest.applicant_id == applicant.id)
        .options(
            selectinload(DisclosureRequest.applicant).selectinload(Applicant.user),
            selectinload(DisclosureRequest.messages),
            selectinload(DisclosureRequest.items),
        )
        .order_by(DisclosureRequest.created_at.desc())
    )
    today = office_day(context.now)
    return [request_view(r, calendar=calendar, today=today, full=False) for r in rows]


def answer_correction(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    request_id: int,
    correction: str,
) -> RequestView:
    """The applicant's correction (补正) arrives: the 20 working days start again from today."""
    row = permitted_request(
        session, subject=subject, context=context, action=Action.disclosure_correct, request_id=request_id
    )
    check(row, Step.correct)
    today = office_day(context.now)
    if row.correct_by is not None and today > row.correct_by:
        raise CorrectionPeriodEnded(row.correct_by)
    row.correction = text("correction", correction)
    row.corrected_on = today
    row.clock_from = today
    advance(row, Step.correct)
    refresh_due(calendar, row)
    add_message(
        row,
        kind="correction",
        from_office=False,
        author=subject.username,
        body=row.correction,
        at=context.now,
    )
    ledger_step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_correct,
        row=row,
        detail={"due_on": row.due_on.isoformat() if row.due_on else None},
    )
    return request_view(row, calendar=calendar, today=today, full=False)


def withdraw_request(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    request_id: int,
    reason: str = "",
) -> RequestView:
    """The applicant withdraws a request not yet answered (撤回申请); the office stops working on it."""
    row = permitted_request(
        session, subject=subject, context=context, action=Action.disclosure_withdraw, request_id=request_id
    )
    check(row, Step.withdraw)
    reason = text("reason", reason, required=False)
    advance(row, Step.withdraw)
    holds.close_for_request(session, request_id=row.id, now=context.now)
    refresh_due(calendar, row)
    add_message(
        row,
        kind="withdrawn_by_applicant",
        from_office=False,
        author=subject.username,
        body=reason or texts.WITHDRAWN_BY_APPLICANT,
        at=context.now,
    )
    ledger_step(session, subject=subject, context=context, action=Action.disclosure_withdraw, row=row)
    return request_view(row, calendar=calendar, today=office_day(context.now), full=False)


def open_item(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    request_id: int,
    item_id: int,
    download: bool = False,
) -> ReleasedItem:
    """A released item the applicant may see now; the view is ledgered. The caller streams it
    from the release realm and commits first."""
    row = permitted_request(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_read,
        request_id=request_id,
        lock=False,
    )
    item = next((i for i in row.items if i.id == item_id), None)
    if item is None:  # a probe for another request's item: refused, and on the record
        probe = Decision(False, "unknown-item", f"no released item {item_id} on this request")
        record(
            session,
            subject=subject,
            action=Action.disclosure_release_view,
            resource=resource_of_request(row),
            context=context,
            decision=probe,
            detail={"request": row.id, "item": item_id},
        )
        session.commit()
        raise ItemNotFound(item_id)
    resource = resource_of_request(
        row, record_id=item.record_id, bundle_id=item.bundle_id, available_until=row.release_until
    )
    require(
        session, subject=subject, action=Action.disclosure_release_view, resource=resource, context=context
    )
    ledger_step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_release_view,
        row=row,
        resource=resource,
        detail={"item": item.id, "sha256": item.sha256, "download": download},
    )
    return item
