"""Housekeeping: requests whose correction lapsed are deemed withdrawn (run on the way by reads
and the queue, and by the CLI), and copies in the release realm no reply references are removed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from access import ledger, workdays
from access.disclosure import texts
from access.disclosure.deadlines import office_day, refresh_due
from access.disclosure.models import DisclosureRequest, DisclosureStatus, ReleasedItem
from access.disclosure.steps import add_message
from access.disclosure.transitions import Step, advance
from access.models import Applicant
from archive.store import ObjectStore
from retention import holds


def expire_corrections(session: Session, *, now: datetime, calendar: workdays.WorkCalendar) -> list[str]:
    """Requests whose correction period passed without a correction are deemed withdrawn (视为放弃)."""
    today = office_day(now)
    rows = session.scalars(
        select(DisclosureRequest)
        .where(DisclosureRequest.status == DisclosureStatus.awaiting_correction.value)
        .where(DisclosureRequest.correct_by < today)
        .options(selectinload(DisclosureRequest.applicant).selectinload(Applicant.user))
    ).all()
    for row in rows:
        advance(row, Step.lapse)
        holds.close_for_request(session, request_id=row.id, now=now)
        refresh_due(calendar, row)
        add_message(
            row,
            kind="withdrawn",
            from_office=True,
            author="system",
            body=texts.correction_lapsed(row.correct_by),
            at=now,
        )
        ledger.append(
            session,
            actor="system",
            action="disclosure.withdrawn",
            outcome="ok",
            case_no=row.case_no,
            at=now,
            detail={"request": row.id, "tracking_code": row.tracking_code, "correct_by": str(row.correct_by)},
        )
    return [r.tracking_code for r in rows]


def sweep_release_realm(
    *, session: Session, release: ObjectStore, older_than: datetime
) -> list[tuple[str, str]]:
    """Remove copies in the release realm that no reply references (a reply that failed while the
    store was down, or whose commit failed), last written before `older_than`."""
    found = [*release.list("releases/"), *release.list_pending("releases/")]
    keys = [info.key for info in found]
    referenced = (
        set(session.scalars(select(ReleasedItem.key).where(ReleasedItem.key.in_(keys)))) if keys else set()
    )
    return [
        (info.key, release.discard(info))
        for info in found
        if (info.key not in referenced or info.upload_id is not None) and info.modified_at < older_than
    ]
