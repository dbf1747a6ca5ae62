"""Every notice a staff member is given (通知), and which of them they have read.

Archive managers: retrieval requests and disposition lists waiting for their decision, disclosure
extensions to approve. Disclosure officers: new requests nobody has taken, requests given to them
by someone else, and their deadlines. Archive staff: failed fixity audits not yet acknowledged.
Supervisors: decisions on their requests and grants ending. A notice has a stable key; viewing the
notifications page marks those shown as read, so the badge counts only what is new.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from access import retrieval, workdays
from access.disclosure import reminders
from access.disclosure.models import OPEN, DisclosureRequest
from access.disclosure.steps import resource_of_request
from access.models import NoticeRead, User
from access.policy import Action, Context, Subject, collection, decide, permits, request_of
from access.retrieval import Notice
from retention.audit_models import FixityAlert
from retention.disposition import Disposition, Status


def _new_requests(session: Session, subject: Subject, now: datetime) -> list[Notice]:
    """Open disclosure requests nobody has taken, for the officers who may take them."""
    if not permits(subject, Action.disclosure_handle):
        return []
    context = Context(now=now)
    rows = session.scalars(
        select(DisclosureRequest)
        .where(DisclosureRequest.status.in_([s.value for s in OPEN]))
        .where(DisclosureRequest.assignee_id.is_(None))
        .order_by(DisclosureRequest.created_at)
    )
    return [
        Notice(
            "disclosure_new", row.id, None, row.case_no, row.created_at, {"tracking_code": row.tracking_code}
        )
        for row in rows
        if decide(
            subject, Action.disclosure_assign, resource_of_request(row, assign_to=subject.username), context
        ).allowed
    ]


def _assigned(session: Session, subject: Subject) -> list[Notice]:
    """Open disclosure requests someone else gave to this officer (分办, 改派)."""
    if not permits(subject, Action.disclosure_handle) or subject.user_id is None:
        return []
    rows = session.scalars(
        select(DisclosureRequest)
        .where(DisclosureRequest.status.in_([s.value for s in OPEN]))
        .where(DisclosureRequest.assignee_id == subject.user_id)
        .where(DisclosureRequest.assigned_by_id.is_not(None))
        .where(DisclosureRequest.assigned_by_id != subject.user_id)
        .options(selectinload(DisclosureRequest.assigned_by))
    )
    return [
        Notice(
            "disclosure_assigned",
            row.id,
            None,
            row.case_no,
            row.assigned_at or row.created_at,
            {
                "tracking_code": row.tracking_code,
                "by": row.assigned_by.display_name if row.assigned_by else "",
            },
        )
        for row in rows
    ]


def _dispositions(session: Session, subject: Subject, now: datetime) -> list[Notice]:
    """Disposition lists waiting for this manager's approval (not their own, not decided by them)."""
    if not permits(subject, Action.disposition_approve):
        return []
    context = Context(now=now)
    rows = list(
        session.scalars(
            select(Disposition)
            .where(Disposition.status == Status.proposed.value)
            .options(selectinload(Disposition.approvals), selectinload(Disposition.items))
            .order_by(Disposition.proposed_at)
        )
    )
    found = []
    proposers = select(User.username, User.display_name).where(
        User.username.in_({r.proposed_by for r in rows})
    )
    names = {username: name for username, name in session.execute(proposers)}
    for row in rows:
        resource = request_of("disposition", case_no=None, owner=row.proposed_by)
        if any(a.manager == subject.username for a in row.approvals):
            continue
        if not decide(subject, Action.disposition_approve, resource, context).allowed:
            continue
        facts = {
            "list": row.id,
            "cases": len(row.items),
            "action": row.action,
            "by": names.get(row.proposed_by, row.proposed_by),
        }
        found.append(Notice("disposition_pending", None, None, None, row.proposed_at, facts))
    return found


def _fixity(session: Session, subject: Subject) -> list[Notice]:
    """Failed fixity audits not yet acknowledged, for archive staff."""
    if not permits(subject, Action.bundle_audit):
        return []
    rows = session.scalars(
        select(FixityAlert).where(FixityAlert.acknowledged_at.is_(None)).order_by(FixityAlert.raised_at)
    )
    return [
        Notice(
            "fixity_failed",
            None,
            None,
            None,
            alert.raised_at,
            {"alert": alert.id, "bundle_id": alert.bundle_id, "failures": len(alert.failures)},
        )
        for alert in rows
    ]


def notices(
    session: Session, *, subject: Subject, now: datetime, calendar: workdays.WorkCalendar | None = None
) -> list[Notice]:
    """Everything this user is told now, newest first (the calendar is loaded when it is needed)."""
    if (
        subject.user_id is None
        or not decide(subject, Action.notices_read, collection("register"), Context(now=now)).allowed
    ):
        return []
    found = retrieval.notifications(session, subject=subject, now=now)
    if permits(subject, Action.disclosure_remind):
        days = calendar if calendar is not None else workdays.load_calendar(session)
        found += reminders.reminders(session, subject=subject, now=now, calendar=days)
    found += _new_requests(session, subject, now) + _assigned(session, subject)
    found += _dispositions(session, subject, now) + _fixity(session, subject)
    return sorted(found, key=lambda n: n.at, reverse=True)


def key(notice: Notice) -> str:
    """What names a notice across page views: it is new again only when what it says changes."""
    facts = notice.facts
    match notice.kind:
        case "decided":
            stamp = facts.get("status", "")
        case "disclosure_due":
            stamp = f"{facts['due_on']}:{'overdue' if facts['days_left'] < 0 else 'soon'}"
        case "disclosure_extension":
            stamp = str(facts.get("days", ""))
        case "disclosure_assigned":
            stamp = notice.at.isoformat()
        case "disposition_pending":
            stamp = str(facts["list"])
        case "fixity_failed":
            stamp = str(facts["alert"])
        case _:
            stamp = ""
    return f"{notice.kind}:{notice.request_id or ''}:{notice.grant_id or ''}:{stamp}"


def read_keys(session: Session, *, subject: Subject) -> frozenset[str]:
    """The keys of the notices this user has read."""
    if subject.user_id is None:
        return frozenset()
    row = session.get(NoticeRead, subject.user_id)
    return frozenset(row.seen) if row else frozenset()


def unread(session: Session, *, subject: Subject, found: Iterable[Notice]) -> list[Notice]:
    """Those of `found` this user has not read yet."""
    seen = read_keys(session, subject=subject)
    return [n for n in found if key(n) not in seen]


def mark_read(session: Session, *, subject: Subject, found: Iterable[Notice], now: datetime) -> None:
    """Mark every notice shown as read (those no longer current are forgotten); the caller commits.
    One upsert, so two tabs opening the page at once both succeed."""
    if subject.user_id is None:
        return
    keys = sorted({key(n) for n in found})
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(NoticeRead).values(user_id=subject.user_id, seen=keys, read_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[NoticeRead.user_id], set_={"seen": statement.excluded.seen, "read_at": now}
        )
    )
