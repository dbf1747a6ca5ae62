"""What officers and managers are reminded of: replies overdue or due soon, extensions to approve."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from access import workdays
from access.disclosure import texts
from access.disclosure.deadlines import DUE_SOON_DAYS, deadline, office_day
from access.disclosure.models import OPEN, DisclosureRequest
from access.disclosure.steps import resource_of_extension, resource_of_request
from access.models import Applicant
from access.policy import Action, Context, Subject, decide, permits
from access.retrieval import Notice


def reminders(
    session: Session, *, subject: Subject, now: datetime, calendar: workdays.WorkCalendar
) -> list[Notice]:
    """For officers and managers: open requests overdue or due within 5 working days, and
    extensions waiting for a manager."""
    if not permits(subject, Action.disclosure_remind):  # spares the query; each row is still decided
        return []
    today, context = office_day(now), Context(now=now)
    rows = session.scalars(
        select(DisclosureRequest)
        .where(DisclosureRequest.status.in_([s.value for s in OPEN]))
        .options(
            selectinload(DisclosureRequest.applicant).selectinload(Applicant.user),
            selectinload(DisclosureRequest.assignee),
            selectinload(DisclosureRequest.extension_requested_by),
        )
    )
    found: list[Notice] = []
    for row in rows:
        mine = decide(subject, Action.disclosure_remind, resource_of_request(row), context).allowed
        due = deadline(calendar, row)  # fresh, not the stored copy: holiday tables move deadlines
        if due is not None and mine:
            left = workdays.working_days_left(calendar, today=today, due_on=due.due_on)
            if left <= DUE_SOON_DAYS:
                text = (
                    texts.overdue(row.tracking_code, -left)
                    if left < 0
                    else texts.due_soon(row.tracking_code, left, due.due_on)
                )
                found.append(Notice("disclosure_due", row.id, None, row.case_no, now, text))
        waiting = row.extension_status == "requested"
        extension = resource_of_extension(row)
        if waiting and decide(subject, Action.disclosure_extension_decide, extension, context).allowed:
            found.append(
                Notice(
                    "disclosure_extension",
                    row.id,
                    None,
                    row.case_no,
                    now,
                    texts.extension_waiting(row.tracking_code, row.extension_days),
                )
            )
    return found
