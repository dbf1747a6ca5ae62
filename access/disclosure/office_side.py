"""The office's side: the queue, assignment (分办), the correction notice (补正告知), consulting a
third party (征求意见), the extension (延期) and messages to the applicant. The reply is in
`replies`."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from access import workdays
from access.disclosure import deadlines, texts
from access.disclosure.deadlines import office_day, refresh_due
from access.disclosure.errors import (
    ConsultationAlreadyHeld,
    CorrectionAlreadyAsked,
    CorrectionNoticeLate,
    ExtensionAlreadyAsked,
    ExtensionTooLate,
    NoExtensionWaiting,
    NotAnOfficer,
    WorkingDaysOutOfRange,
)
from access.disclosure.inputs import text
from access.disclosure.models import OPEN, DisclosureRequest
from access.disclosure.schemas import RequestView, request_view
from access.disclosure.steps import (
    add_message,
    handling,
    ledger_handling,
    ledger_step,
    load_request,
    permitted_request,
    resource_of_extension,
    resource_of_request,
)
from access.disclosure.sweeps import expire_corrections
from access.disclosure.transitions import Step, advance, check
from access.models import Applicant, Role, User
from access.policy import Action, Context, Subject, collection, require


def queue(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    include_closed: bool = False,
) -> list[RequestView]:
    """Open requests (or all), soonest deadline first; withdraws lapsed corrections on the way."""
    require(
        session,
        subject=subject,
        action=Action.disclosure_queue,
        resource=collection("disclosure"),
        context=context,
    )
    expire_corrections(session, now=context.now, calendar=calendar)
    query = select(DisclosureRequest).options(
        selectinload(DisclosureRequest.applicant).selectinload(Applicant.user),
        selectinload(DisclosureRequest.assignee),
        selectinload(DisclosureRequest.extension_requested_by),
        selectinload(DisclosureRequest.decided_by),
        selectinload(DisclosureRequest.messages),
        selectinload(DisclosureRequest.items),
    )
    if not include_closed:
        query = query.where(DisclosureRequest.status.in_([s.value for s in OPEN]))
    today = office_day(context.now)
    views = [request_view(r, calendar=calendar, today=today) for r in session.scalars(query)]
    return sorted(views, key=lambda v: (v.due_on is None, v.due_on or date.max, v.id))


def assign(session: Session, *, subject: Subject, context: Context, request_id: int, officer: str) -> None:
    """Give a request to a disclosure officer (分办); an officer may take an unassigned one."""
    officer = officer.strip().lower()
    row = permitted_request(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_assign,
        request_id=request_id,
        detail={"officer": officer},
        assign_to=officer,
    )
    check(row, Step.assign)
    user = session.scalar(select(User).where(User.username == officer))
    if user is None or user.role != Role.disclosure_officer or user.disabled:
        raise NotAnOfficer(officer)
    decided = resource_of_request(row, assign_to=officer)  # as it stood when the policy allowed it
    row.assignee = user
    row.assigned_at, row.assigned_by_id = context.now, subject.user_id
    ledger_step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_assign,
        row=row,
        resource=decided,
        detail={"officer": user.username},
    )


def ask_correction(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    request_id: int,
    what: str,
    within_days: int,
) -> None:
    """Send the one correction notice (补正告知), within 7 working days of receipt; the clock stops."""
    row = handling(session, subject=subject, context=context, request_id=request_id, step=Step.ask_correction)
    if row.correction_asked_on is not None:
        raise CorrectionAlreadyAsked()
    today = office_day(context.now)
    notice_by = deadlines.correction_notice_by(calendar, row)
    if today > notice_by:
        raise CorrectionNoticeLate(notice_by)
    low, high = deadlines.CORRECTION_PERIOD_DAYS
    if not low <= within_days <= high:
        raise WorkingDaysOutOfRange("within_days", low, high)
    asked = text("what", what)
    row.correction_asked = asked
    row.correction_asked_on = today
    row.correct_by = correct_by = deadlines.correct_by(calendar, today, within_days)
    advance(row, Step.ask_correction)
    refresh_due(calendar, row)
    add_message(
        row,
        kind="correction_notice",
        from_office=True,
        author=subject.username,
        body=asked,
        at=context.now,
    )
    ledger_handling(
        session,
        subject=subject,
        context=context,
        row=row,
        step="correction_notice",
        correct_by=correct_by.isoformat(),
    )


def start_consultation(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    request_id: int,
    party: str,
) -> None:
    """Ask a third party (征求第三方意见, art. 32); its 15 working days are not counted."""
    row = handling(
        session, subject=subject, context=context, request_id=request_id, step=Step.start_consultation
    )
    if row.consultation_from is not None:
        raise ConsultationAlreadyHeld()
    today = office_day(context.now)
    row.consultation_party = text("party", party, limit="party")
    row.consultation_from = today
    row.consultation_until = until = deadlines.consultation_until(calendar, today)
    advance(row, Step.start_consultation)
    refresh_due(calendar, row)
    ledger_handling(
        session,
        subject=subject,
        context=context,
        row=row,
        step="consultation_start",
        until=until.isoformat(),
    )


def end_consultation(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    request_id: int,
    reply: str,
) -> None:
    """Record the third party's answer (or its silence); the clock runs again from the next day."""
    row = handling(
        session, subject=subject, context=context, request_id=request_id, step=Step.end_consultation
    )
    assert row.consultation_until is not None
    row.consultation_reply = text("reply", reply)
    row.consultation_ended_on = ended_on = min(office_day(context.now), row.consultation_until)
    advance(row, Step.end_consultation)
    refresh_due(calendar, row)
    ledger_handling(
        session,
        subject=subject,
        context=context,
        row=row,
        step="consultation_end",
        ended_on=ended_on.isoformat(),
    )


def request_extension(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    request_id: int,
    days: int,
    reason: str,
) -> None:
    """Ask a manager for the one extension (延期答复), up to 20 working days, before the deadline."""
    row = handling(
        session, subject=subject, context=context, request_id=request_id, step=Step.request_extension
    )
    if row.extension_status is not None:
        raise ExtensionAlreadyAsked(row.extension_status)
    if not 1 <= days <= deadlines.MAX_EXTENSION_DAYS:
        raise WorkingDaysOutOfRange("days", 1, deadlines.MAX_EXTENSION_DAYS)
    due = deadlines.deadline(calendar, row)  # fresh: a holiday table entered since may have moved it
    if due is not None and office_day(context.now) > due.due_on:
        raise ExtensionTooLate(due.due_on)
    row.extension_days = days
    row.extension_reason = text("reason", reason)
    row.extension_status = "requested"
    row.extension_requested_by_id = subject.user_id
    ledger_handling(session, subject=subject, context=context, row=row, step="extension_request", days=days)


def decide_extension(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    request_id: int,
    approve: bool,
    reason: str,
) -> None:
    """A manager approves or refuses the extension (never their own); approval moves the deadline."""
    row = load_request(session, request_id, lock=True)
    resource = resource_of_extension(row)
    require(
        session,
        subject=subject,
        action=Action.disclosure_extension_decide,
        resource=resource,
        context=context,
    )
    check(row, Step.decide_extension)
    if row.extension_status != "requested":
        raise NoExtensionWaiting()
    reason = text("reason", reason, required=not approve)
    row.extension_status = "approved" if approve else "refused"
    row.extension_decided_by_id = subject.user_id
    refresh_due(calendar, row)
    if approve:
        add_message(
            row,
            kind="extension",
            from_office=True,
            author=subject.username,
            body=texts.extension_approved(
                days=row.extension_days, due_on=row.due_on, reason=row.extension_reason
            ),
            at=context.now,
        )
    ledger_step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_extension_decide,
        row=row,
        resource=resource,
        detail={"approve": approve, "reason": reason, "due_on": str(row.due_on)},
    )


def send_message(session: Session, *, subject: Subject, context: Context, request_id: int, body: str) -> None:
    """A message from the office to the applicant (shown on their tracking page)."""
    row = handling(session, subject=subject, context=context, request_id=request_id, step=Step.message)
    add_message(
        row,
        kind="message",
        from_office=True,
        author=subject.username,
        body=text("body", body),
        at=context.now,
    )
    ledger_handling(session, subject=subject, context=context, row=row, step="message")
