"""The working-day rules of the regulations, and when a request's reply is due.

The reply is due 20 working days after receipt, the receipt day not counted (art. 33); a
correction notice must go out within 7 working days of receipt, and the correction restarts the
count (art. 30); a third party's consultation time (15 working days, art. 32) is not counted; one
extension of up to 20 working days may be approved (art. 33).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from access import workdays
from access.disclosure.models import DisclosureRequest, DisclosureStatus
from access.retrieval import CHINA

ANSWER_DAYS = 20  # art. 33
CORRECTION_NOTICE_DAYS = 7  # art. 30
CONSULTATION_DAYS = 15  # art. 32
MAX_EXTENSION_DAYS = 20  # art. 33
CORRECTION_PERIOD_DAYS = (5, 30)  # the period an officer may give for a correction, in working days
DUE_SOON_DAYS = 5  # reminders this many working days before a deadline


def office_day(at: datetime) -> date:
    """The calendar day in the office's time zone (China Standard Time)."""
    return at.astimezone(CHINA).date()


def _pauses(row: DisclosureRequest) -> list[tuple[date, date]]:
    """Consultation time, not counted: from the day after it began to the day it ended (or will)."""
    if row.consultation_from is None:
        return []
    until = row.consultation_ended_on or row.consultation_until
    assert until is not None
    return [(row.consultation_from + timedelta(days=1), until)] if until > row.consultation_from else []


def deadline(calendar: workdays.WorkCalendar, row: DisclosureRequest) -> workdays.Deadline | None:
    """When the reply is due: 20 working days (plus an approved extension) from the clock's start,
    skipping consultation time; None while the office waits for a correction, or once none came."""
    if row.status in (DisclosureStatus.awaiting_correction, DisclosureStatus.withdrawn):
        return None
    days = ANSWER_DAYS + (row.extension_days or 0 if row.extension_status == "approved" else 0)
    return workdays.add_working_days(calendar, row.clock_from, days, paused=_pauses(row))


def refresh_due(calendar: workdays.WorkCalendar, row: DisclosureRequest) -> None:
    """Keep the deadline as of this step on the row (for the ledger); views work it out afresh."""
    found = deadline(calendar, row)
    row.due_on = found.due_on if found else None


def correction_notice_by(calendar: workdays.WorkCalendar, row: DisclosureRequest) -> date:
    """The last day a correction notice may go out: 7 working days after receipt."""
    return workdays.add_working_days(calendar, row.received_on, CORRECTION_NOTICE_DAYS).due_on


def consultation_until(calendar: workdays.WorkCalendar, start: date) -> date:
    """The last day of a third party's 15 working days to answer, counted from `start`."""
    return workdays.add_working_days(calendar, start, CONSULTATION_DAYS).due_on


def correct_by(calendar: workdays.WorkCalendar, start: date, within_days: int) -> date:
    """The last day for a correction given `within_days` working days from `start`."""
    return workdays.add_working_days(calendar, start, within_days).due_on
