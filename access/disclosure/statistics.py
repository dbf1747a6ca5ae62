"""The year's disclosure statistics (政府信息公开工作年度报告, Regulations on OGI art. 50): the
requests received in a year, how they ended (the reply types of art. 36, withdrawn, still open)
and whether the reply came by its deadline (art. 33). Counts only: no applicant, case or text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import workdays
from access.disclosure.deadlines import deadline
from access.disclosure.models import OPEN, DisclosureRequest, DisclosureStatus
from access.disclosure.schemas import DecisionType

# How a request of the year ended: a reply type, withdrawn, or still open at the year's report.
OUTCOMES = (*(d.value for d in DecisionType), DisclosureStatus.withdrawn.value, "open")
# Whether the reply came in time: answered by the deadline, late, still open in time, open past it,
# or no deadline runs (withdrawn, or waiting for a correction).
TIMELINESS = ("in_time", "late", "open_in_time", "open_overdue", "no_deadline")


@dataclass(frozen=True)
class YearStatistics:
    """One year's counts."""

    year: int
    received: int
    outcomes: dict[str, int]
    timeliness: dict[str, int]

    def as_json(self) -> dict[str, object]:
        """As the public API gives it."""
        return {
            "year": self.year,
            "received": self.received,
            "outcomes": self.outcomes,
            "timeliness": self.timeliness,
        }


def _outcome(row: DisclosureRequest) -> str:
    if row.status == DisclosureStatus.decided.value and row.decision in DecisionType.__members__:
        return str(row.decision)
    if row.status == DisclosureStatus.withdrawn.value:
        return DisclosureStatus.withdrawn.value
    return "open"


def _timeliness(calendar: workdays.WorkCalendar, row: DisclosureRequest, today: date) -> str:
    due = deadline(calendar, row)
    if row.status == DisclosureStatus.decided.value and row.decided_on is not None:
        if due is None:
            return "in_time"
        return "in_time" if row.decided_on <= due.due_on else "late"
    if due is None or row.status not in {s.value for s in OPEN}:
        return "no_deadline"
    return "open_in_time" if today <= due.due_on else "open_overdue"


def years(session: Session) -> list[int]:
    """The years that have requests, newest first."""
    days = session.scalars(select(DisclosureRequest.received_on).distinct())
    return sorted({d.year for d in days}, reverse=True)


def year_statistics(
    session: Session, *, calendar: workdays.WorkCalendar, year: int, today: date
) -> YearStatistics:
    """The counts of the requests received in `year` (by their receipt day), as of `today`."""
    rows = session.scalars(
        select(DisclosureRequest).where(
            DisclosureRequest.received_on >= date(year, 1, 1),
            DisclosureRequest.received_on <= date(year, 12, 31),
        )
    ).all()
    outcomes = Counter(_outcome(r) for r in rows)
    timely = Counter(_timeliness(calendar, r, today) for r in rows)
    return YearStatistics(
        year=year,
        received=len(rows),
        outcomes={o: outcomes[o] for o in OUTCOMES},
        timeliness={t: timely[t] for t in TIMELINESS},
    )
