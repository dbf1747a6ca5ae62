"""Information-disclosure requests (依申请公开) under the Regulations on Open Government Information.

A party or interested party files a request on the public portal; the office answers within 20
working days of receipt (art. 33; the receipt day is not counted). One correction notice (补正)
may be sent within 7 working days of receipt, and the clock restarts when the correction arrives
(art. 30); no correction within the notice's period means the request is deemed withdrawn. Time
the third party takes to answer a consultation (15 working days, art. 32) is not counted. One
extension of up to 20 working days needs an archive manager's approval. The reply is one of the
types of art. 36; released records, or redacted derivatives of them (art. 37), are copied into
the release realm, where the applicant may see them for a limited time. State-secret records are
never released (art. 14).

Every step goes through the policy decision point and is ledgered in the caller's transaction;
the caller commits (a policy refusal is ledgered and committed at once, then raised as
`access.policy.Denied`). Bad input raises `Refused` naming the field; an unknown request, or one
that is not the caller's, `NotFound`; a step the request's state does not allow, `Conflict`.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from access import applicants, fields, ledger, workdays
from access.models import (
    Applicant,
    DisclosureMessage,
    DisclosureRequest,
    DisclosureStatus,
    ReleasedItem,
    Role,
    User,
)
from access.policy import (
    Action,
    Context,
    Decision,
    Denied,
    Resource,
    Subject,
    collection,
    decide,
    permits,
    record,
    release_of,
    request_of,
    require,
    resource_of,
)
from access.retrieval import CHINA, Conflict, NotFound, Notice
from archive import catalogue
from archive.db import claim_row
from archive.errors import Refused
from archive.models import BundleFile, CaseRecord
from archive.service import latest_bundle
from archive.store import CHUNK, ObjectInfo, ObjectStore
from retention import holds

ANSWER_DAYS = 20  # art. 33
CORRECTION_NOTICE_DAYS = 7  # art. 30
CONSULTATION_DAYS = 15  # art. 32
MAX_EXTENSION_DAYS = 20  # art. 33
CORRECTION_PERIOD_DAYS = (5, 30)  # the period an officer may give for a correction, in working days
DUE_SOON_DAYS = 5  # reminders this many working days before a deadline
LIMITS = {"case_no": 128, "description": 4000, "text": 4000, "party": 256, "filename": 200}
MAX_REDACTED_BYTES = 200 << 20


class Relation(StrEnum):
    """How the applicant stands to the case."""

    party = "party"  # 行政相对人
    interested_party = "interested_party"  # 利害关系人


class Delivery(StrEnum):
    """How the applicant wants the material."""

    online = "online"  # 网上查阅
    paper = "paper"  # 纸质邮寄


class DecisionType(StrEnum):
    """The reply types of art. 36."""

    released = "released"  # 予以公开
    partly_released = "partly_released"  # 部分公开
    not_released = "not_released"  # 不予公开
    not_exist = "not_exist"  # 信息不存在
    not_this_office = "not_this_office"  # 非本机关负责公开
    repeated = "repeated"  # 重复申请


class Basis(StrEnum):
    """Why information is withheld."""

    art14_state_secret = "art14_state_secret"  # 国家秘密
    art15_commercial_privacy = "art15_commercial_privacy"  # 商业秘密、个人隐私
    art16_case_file = "art16_case_file"  # 行政执法案卷信息


RELEASING = frozenset({DecisionType.released, DecisionType.partly_released})
# Withholding anything needs its legal basis.
NEEDS_BASIS = frozenset({DecisionType.partly_released, DecisionType.not_released})
OFFICE = "office"  # the author applicants see on the office's messages
OPEN = (DisclosureStatus.received, DisclosureStatus.awaiting_correction, DisclosureStatus.in_consultation)


# --- dates -------------------------------------------------------------------------------------


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


def _refresh_due(calendar: workdays.WorkCalendar, row: DisclosureRequest) -> None:
    """Keep the deadline as of this step on the row (for the ledger); views work it out afresh."""
    found = deadline(calendar, row)
    row.due_on = found.due_on if found else None


# --- views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageView:
    """One message on a request."""

    kind: str
    from_office: bool
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class ItemView:
    """One released item, as the applicant and the office see it."""

    id: int
    record_id: str
    title: str
    filename: str
    media_type: str
    size: int
    sha256: str
    redacted: bool
    released_at: datetime


@dataclass(frozen=True)
class RequestView:
    """A request with its deadlines worked out on the calendar, for pages, the API and letters."""

    id: int
    tracking_code: str
    status: str
    relation: str
    case_no: str | None
    description: str
    delivery: str
    applicant_name: str
    applicant_username: str
    applicant_id_type: str
    applicant_id_masked: str
    applicant_phone: str
    applicant_email: str
    applicant_address: str | None
    received_on: date
    clock_from: date
    due_on: date | None
    # Years the count ran through on the Monday–Friday fallback: the deadline is an estimate.
    estimated_years: tuple[int, ...]
    working_days_left: int | None
    assignee: str | None
    correction_notice_by: date
    correction_asked_on: date | None
    correction_asked: str | None
    correct_by: date | None
    corrected_on: date | None
    correction: str | None
    consultation_party: str | None
    consultation_from: date | None
    consultation_until: date | None
    consultation_ended_on: date | None
    consultation_reply: str | None
    extension_days: int | None
    extension_reason: str | None
    extension_status: str | None
    extension_requested_by: str | None
    decision: str | None
    decision_basis: str | None
    reasons: str | None
    decided_on: date | None
    decided_by: str | None
    release_until: datetime | None
    created_at: datetime
    messages: tuple[MessageView, ...] = field(default=())
    items: tuple[ItemView, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        """Still waiting for a reply."""
        return self.status in OPEN

    @property
    def overdue(self) -> bool:
        """Open and past its deadline."""
        return self.is_open and self.working_days_left is not None and self.working_days_left < 0


def _view(
    row: DisclosureRequest, *, calendar: workdays.WorkCalendar, today: date, full: bool = True
) -> RequestView:
    found = deadline(calendar, row)
    applicant = row.applicant
    return RequestView(
        id=row.id,
        tracking_code=row.tracking_code,
        status=row.status,
        relation=row.relation,
        case_no=row.case_no,
        description=row.description,
        delivery=row.delivery,
        applicant_name=applicant.name,
        applicant_username=applicant.user.username,
        applicant_id_type=applicant.id_type,
        applicant_id_masked=applicant.id_number_masked,
        applicant_phone=applicant.phone,
        applicant_email=applicant.email,
        applicant_address=applicant.address,
        received_on=row.received_on,
        clock_from=row.clock_from,
        due_on=found.due_on if found else None,
        estimated_years=found.estimated_years if found else (),
        working_days_left=(
            workdays.working_days_left(calendar, today=today, due_on=found.due_on)
            if found and row.status in OPEN
            else None
        ),
        # Applicants see the office, never which member of staff: names are kept to the office side.
        assignee=row.assignee.username if row.assignee and full else None,
        correction_notice_by=workdays.add_working_days(
            calendar, row.received_on, CORRECTION_NOTICE_DAYS
        ).due_on,
        correction_asked_on=row.correction_asked_on,
        correction_asked=row.correction_asked,
        correct_by=row.correct_by,
        corrected_on=row.corrected_on,
        correction=row.correction,
        consultation_party=row.consultation_party if full else None,
        consultation_from=row.consultation_from,
        consultation_until=row.consultation_until,
        consultation_ended_on=row.consultation_ended_on,
        consultation_reply=row.consultation_reply if full else None,
        extension_days=row.extension_days,
        extension_reason=row.extension_reason,
        extension_status=row.extension_status,
        extension_requested_by=(
            row.extension_requested_by.username if row.extension_requested_by and full else None
        ),
        decision=row.decision,
        decision_basis=row.decision_basis,
        reasons=row.reasons,
        decided_on=row.decided_on,
        decided_by=row.decided_by.display_name if row.decided_by and full else None,
        release_until=row.release_until,
        created_at=row.created_at,
        messages=tuple(
            MessageView(
                m.kind, m.from_office, m.author if full or not m.from_office else OFFICE, m.body, m.created_at
            )
            for m in row.messages
        ),
        items=tuple(
            ItemView(
                i.id,
                i.record_id,
                i.title,
                i.filename,
                i.media_type,
                i.size,
                i.sha256,
                i.redacted,
                i.released_at,
            )
            for i in row.items
        ),
    )


# --- input -------------------------------------------------------------------------------------


def _text(field_name: str, value: str | None, *, limit: str = "text", required: bool = True) -> str:
    return fields.text(field_name, value, limit=LIMITS[limit], required=required)


def _choice(field_name: str, value: str | None, kind: type[StrEnum]) -> str:
    if value not in kind.__members__:
        raise Refused(f"{field_name}: {value!r} is not one of {', '.join(kind)}")
    return value


# --- the policy, once per step -----------------------------------------------------------------


def _resource(row: DisclosureRequest, **extra: object) -> Resource:
    return request_of(
        "disclosure",
        case_no=row.case_no,
        owner=row.applicant.user.username,
        assignee=row.assignee.username if row.assignee else None,
        **extra,  # type: ignore[arg-type]
    )


def _extension(row: DisclosureRequest) -> Resource:
    """An extension request: its owner is the officer who asked for it."""
    requester = row.extension_requested_by.username if row.extension_requested_by else None
    return request_of("disclosure", case_no=row.case_no, owner=requester)


def _load(session: Session, request_id: int, *, lock: bool = False) -> DisclosureRequest:
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
        raise NotFound(f"request: no disclosure request {request_id}")
    return row


def _step(
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
    row = _load(session, request_id, lock=lock)
    try:
        require(
            session,
            subject=subject,
            action=action,
            resource=_resource(row, **resource),
            context=context,
            detail={"request": row.id, **(detail or {})},
        )
    except Denied as exc:
        if exc.decision.rule == "own-requests-only":  # another applicant's request: as if none
            raise NotFound(f"request: no disclosure request {request_id}") from None
        raise
    return row


def _ledger(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    action: Action,
    row: DisclosureRequest,
    detail: dict[str, object] | None = None,
    resource: Resource | None = None,
) -> None:
    resource = resource or _resource(row)
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


def _message(
    row: DisclosureRequest, *, kind: str, from_office: bool, author: str, body: str, at: datetime
) -> None:
    row.messages.append(
        DisclosureMessage(kind=kind, from_office=from_office, author=author, body=body, created_at=at)
    )


def _handling(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    request_id: int,
    states: Sequence[DisclosureStatus],
) -> DisclosureRequest:
    """A request its assigned officer takes a step on, which must be in one of `states`."""
    row = _step(
        session, subject=subject, context=context, action=Action.disclosure_handle, request_id=request_id
    )
    _open(row, *states)
    return row


def _handled(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    row: DisclosureRequest,
    step: str,
    **detail: object,
) -> None:
    """Ledger one handling step (补正, 征求意见, 延期, 留言) with what it set."""
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_handle,
        row=row,
        detail={"step": step, **detail},
    )


def _open(row: DisclosureRequest, *states: DisclosureStatus) -> None:
    allowed = states or OPEN
    if row.status not in allowed:
        raise Conflict(f"request: {row.tracking_code} is {row.status}; this step needs {', '.join(allowed)}")


# --- the applicant's side ----------------------------------------------------------------------


def _tracking_code(session: Session, today: date) -> str:
    """A short code the applicant can quote on the phone: year and 8 unambiguous characters."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    while True:
        code = f"GK{today.year}-" + "".join(secrets.choice(alphabet) for _ in range(8))
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
    relation = _choice("relation", relation, Relation)
    delivery = _choice("delivery", delivery, Delivery)
    description = _text("description", description, limit="description")
    case_no = _text("case_no", case_no, limit="case_no", required=False) or None
    today = office_day(context.now)
    row = DisclosureRequest(
        tracking_code=_tracking_code(session, today),
        applicant=applicant,
        relation=relation,
        case_no=case_no,
        description=description,
        delivery=delivery,
        status=DisclosureStatus.received.value,
        received_on=today,
        clock_from=today,
        created_at=context.now,
    )
    _refresh_due(calendar, row)
    session.add(row)
    session.flush()
    # While the request is open the case it names may not be destroyed (冻结).
    holds.open_for_request(
        session, case_no=case_no, request_id=row.id, tracking_code=row.tracking_code, now=context.now
    )
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_submit,
        row=row,
        detail={"due_on": row.due_on.isoformat() if row.due_on else None},
    )
    return _view(row, calendar=calendar, today=today, full=False)


def get_request(
    session: Session, *, subject: Subject, context: Context, calendar: workdays.WorkCalendar, request_id: int
) -> RequestView:
    """One request; an applicant sees only their own (others are 'not found'), without internal notes.
    A correction period that has lapsed withdraws the request first; the read is ledgered and the
    caller commits."""
    expire_corrections(session, now=context.now, calendar=calendar)
    row = _step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_read,
        request_id=request_id,
        lock=False,
    )
    _ledger(session, subject=subject, context=context, action=Action.disclosure_read, row=row)
    return _view(
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
    return [_view(r, calendar=calendar, today=today, full=False) for r in rows]


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
    row = _step(
        session, subject=subject, context=context, action=Action.disclosure_correct, request_id=request_id
    )
    _open(row, DisclosureStatus.awaiting_correction)
    today = office_day(context.now)
    if row.correct_by is not None and today > row.correct_by:
        raise Conflict(f"request: the correction period ended on {row.correct_by.isoformat()}")
    row.correction = _text("correction", correction)
    row.corrected_on = today
    row.clock_from = today
    row.status = DisclosureStatus.received.value
    _refresh_due(calendar, row)
    _message(
        row,
        kind="correction",
        from_office=False,
        author=subject.username,
        body=row.correction,
        at=context.now,
    )
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_correct,
        row=row,
        detail={"due_on": row.due_on.isoformat() if row.due_on else None},
    )
    return _view(row, calendar=calendar, today=today, full=False)


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
    row = _step(
        session, subject=subject, context=context, action=Action.disclosure_withdraw, request_id=request_id
    )
    _open(row)
    reason = _text("reason", reason, required=False)
    row.status = DisclosureStatus.withdrawn.value
    holds.close_for_request(session, request_id=row.id, now=context.now)
    _refresh_due(calendar, row)
    _message(
        row,
        kind="withdrawn_by_applicant",
        from_office=False,
        author=subject.username,
        body=reason or "申请人撤回申请。The applicant withdrew the request.",
        at=context.now,
    )
    _ledger(session, subject=subject, context=context, action=Action.disclosure_withdraw, row=row)
    return _view(row, calendar=calendar, today=office_day(context.now), full=False)


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
    row = _step(
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
            resource=_resource(row),
            context=context,
            decision=probe,
            detail={"request": row.id, "item": item_id},
        )
        session.commit()
        raise NotFound(f"item: no released item {item_id} on this request")
    resource = _resource(
        row, record_id=item.record_id, bundle_id=item.bundle_id, available_until=row.release_until
    )
    require(
        session, subject=subject, action=Action.disclosure_release_view, resource=resource, context=context
    )
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_release_view,
        row=row,
        resource=resource,
        detail={"item": item.id, "sha256": item.sha256, "download": download},
    )
    return item


# --- the office's side -------------------------------------------------------------------------


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
        row.status = DisclosureStatus.withdrawn.value
        holds.close_for_request(session, request_id=row.id, now=now)
        _refresh_due(calendar, row)
        _message(
            row,
            kind="withdrawn",
            from_office=True,
            author="system",
            body=f"补正期限（{row.correct_by}）已过，未收到补正，视为放弃申请。"
            f" No correction arrived by {row.correct_by}; the request is deemed withdrawn.",
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
    views = [_view(r, calendar=calendar, today=today) for r in session.scalars(query)]
    return sorted(views, key=lambda v: (v.due_on is None, v.due_on or date.max, v.id))


def assign(session: Session, *, subject: Subject, context: Context, request_id: int, officer: str) -> None:
    """Give a request to a disclosure officer (分办); an officer may take an unassigned one."""
    officer = officer.strip().lower()
    row = _step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_assign,
        request_id=request_id,
        detail={"officer": officer},
        assign_to=officer,
    )
    _open(row)
    user = session.scalar(select(User).where(User.username == officer))
    if user is None or user.role != Role.disclosure_officer or user.disabled:
        raise Refused(f"officer: {officer!r} is not an active disclosure officer")
    decided = _resource(row, assign_to=officer)  # as it stood when the policy allowed it
    row.assignee = user
    _ledger(
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
    row = _handling(
        session, subject=subject, context=context, request_id=request_id, states=(DisclosureStatus.received,)
    )
    if row.correction_asked_on is not None:
        raise Conflict("correction: a request gets one correction notice only (art. 30)")
    today = office_day(context.now)
    notice_by = workdays.add_working_days(calendar, row.received_on, CORRECTION_NOTICE_DAYS).due_on
    if today > notice_by:
        raise Conflict(f"correction: the notice had to go out by {notice_by.isoformat()} (7 working days)")
    low, high = CORRECTION_PERIOD_DAYS
    if not low <= within_days <= high:
        raise Refused(f"within_days: between {low} and {high} working days")
    row.correction_asked = _text("what", what)
    row.correction_asked_on = today
    row.correct_by = workdays.add_working_days(calendar, today, within_days).due_on
    row.status = DisclosureStatus.awaiting_correction.value
    _refresh_due(calendar, row)
    _message(
        row,
        kind="correction_notice",
        from_office=True,
        author=subject.username,
        body=row.correction_asked,
        at=context.now,
    )
    _handled(
        session,
        subject=subject,
        context=context,
        row=row,
        step="correction_notice",
        correct_by=row.correct_by.isoformat(),
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
    row = _handling(
        session, subject=subject, context=context, request_id=request_id, states=(DisclosureStatus.received,)
    )
    if row.consultation_from is not None:
        raise Conflict("consultation: this request has had its consultation")
    today = office_day(context.now)
    row.consultation_party = _text("party", party, limit="party")
    row.consultation_from = today
    row.consultation_until = workdays.add_working_days(calendar, today, CONSULTATION_DAYS).due_on
    row.status = DisclosureStatus.in_consultation.value
    _refresh_due(calendar, row)
    _handled(
        session,
        subject=subject,
        context=context,
        row=row,
        step="consultation_start",
        until=row.consultation_until.isoformat(),
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
    row = _handling(
        session,
        subject=subject,
        context=context,
        request_id=request_id,
        states=(DisclosureStatus.in_consultation,),
    )
    assert row.consultation_until is not None
    row.consultation_reply = _text("reply", reply)
    row.consultation_ended_on = min(office_day(context.now), row.consultation_until)
    row.status = DisclosureStatus.received.value
    _refresh_due(calendar, row)
    _handled(
        session,
        subject=subject,
        context=context,
        row=row,
        step="consultation_end",
        ended_on=row.consultation_ended_on.isoformat(),
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
    row = _handling(
        session,
        subject=subject,
        context=context,
        request_id=request_id,
        states=(
            DisclosureStatus.received,
            DisclosureStatus.in_consultation,
        ),
    )
    if row.extension_status is not None:
        raise Conflict(f"extension: already {row.extension_status}; one extension per request (art. 33)")
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise Refused(f"days: between 1 and {MAX_EXTENSION_DAYS} working days")
    due = deadline(calendar, row)  # fresh: a holiday table entered since may have moved it
    if due is not None and office_day(context.now) > due.due_on:
        raise Conflict(f"extension: the deadline {due.due_on.isoformat()} has passed")
    row.extension_days = days
    row.extension_reason = _text("reason", reason)
    row.extension_status = "requested"
    row.extension_requested_by_id = subject.user_id
    _handled(session, subject=subject, context=context, row=row, step="extension_request", days=days)


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
    row = _load(session, request_id, lock=True)
    resource = _extension(row)
    require(
        session,
        subject=subject,
        action=Action.disclosure_extension_decide,
        resource=resource,
        context=context,
    )
    _open(row)
    if row.extension_status != "requested":
        raise Conflict("extension: no extension is waiting for a decision")
    reason = _text("reason", reason, required=not approve)
    row.extension_status = "approved" if approve else "refused"
    row.extension_decided_by_id = subject.user_id
    _refresh_due(calendar, row)
    if approve:
        _message(
            row,
            kind="extension",
            from_office=True,
            author=subject.username,
            body=f"经批准，答复期限延长 {row.extension_days} 个工作日，至 {row.due_on}。"
            f"理由：{row.extension_reason} / The time to reply is extended by {row.extension_days} "
            f"working days, to {row.due_on}.",
            at=context.now,
        )
    _ledger(
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
    row = _handling(
        session, subject=subject, context=context, request_id=request_id, states=tuple(DisclosureStatus)
    )
    _message(
        row,
        kind="message",
        from_office=True,
        author=subject.username,
        body=_text("body", body),
        at=context.now,
    )
    _handled(session, subject=subject, context=context, row=row, step="message")


# --- the reply ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A record of the requested case, and whether it may be released at all."""

    bundle_id: str
    record_id: str
    title: str | None  # None above the officer's clearance, as the catalogue withholds it
    path: str
    kind: str
    classification: str
    grade: str | None
    releasable: bool  # never for state secrets (art. 14)


def candidates(session: Session, *, subject: Subject, context: Context, request_id: int) -> list[Candidate]:
    """The records of the request's case an officer may choose from (metadata only; staff only)."""
    row = _step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_read,
        request_id=request_id,
        lock=False,
    )
    # Record titles name parties and witnesses: the list belongs to the office's queue, not to applicants.
    require(
        session, subject=subject, action=Action.disclosure_queue, resource=_resource(row), context=context
    )
    bundle = latest_bundle(session, row.case_no) if row.case_no else None
    records = bundle.records if bundle else []
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_queue,
        row=row,
        detail={"candidates": len(records)},
    )
    if bundle is None:
        return []
    return [
        Candidate(
            bundle.id,
            r.record_id,
            r.title if decide(subject, Action.bundle_read, resource_of(bundle, r), context).allowed else None,
            r.path,
            r.kind,
            r.classification,
            r.grade,
            r.classification != "state_secret",
        )
        for r in bundle.records
    ]


@dataclass(frozen=True)
class Redaction:
    """A redacted derivative (删除不应公开内容后的版本) of one record, uploaded by the officer."""

    record_id: str
    filename: str
    stream: BinaryIO


def _release_key(row: DisclosureRequest, attempt: str, index: int, filename: str) -> str:
    # A key per attempt: copies a failed attempt could not take back never block the next one.
    return f"releases/{row.tracking_code}/{attempt}/{index:03d}-{filename}"


def _safe_filename(name: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name.strip()
    if not base or base in {".", ".."} or len(base) > LIMITS["filename"]:
        raise Refused(f"filename: {name!r} is not a usable file name")
    # Control characters break object keys (NUL) and download headers (CR, LF).
    if any(ord(c) < 32 or ord(c) == 127 for c in base):
        raise Refused(f"filename: {name!r} holds control characters")
    return base


class SealMismatch(Refused):
    """A sealed record whose bytes no longer match its seal: never released, always ledgered."""

    def __init__(self, record_id: str, *, expected: str, found: str) -> None:
        super().__init__(
            f"record_ids: {record_id} no longer matches its seal; nothing was released; "
            "run `casevault verify`"
        )
        self.record_id, self.expected, self.found = record_id, expected, found


def _copy(
    stream: Iterable[bytes],
    writer_store: ObjectStore,
    key: str,
    *,
    tags: dict[str, str],
    limit: int | None = None,
    sealed_sha256: str | None = None,
) -> tuple[int, str]:
    """Stream into the release realm, hashing on the way; visible only if it all arrives (and matches)."""
    writer = writer_store.open_writer(key, tags=tags)
    digest, size = hashlib.sha256(), 0
    try:
        for chunk in stream:
            size += len(chunk)
            if limit is not None and size > limit:
                raise Refused(f"file: larger than {limit >> 20} MiB")
            digest.update(chunk)
            writer.write(chunk)
        if sealed_sha256 is not None and digest.hexdigest() != sealed_sha256:
            raise SealMismatch(tags["record"], expected=sealed_sha256, found=digest.hexdigest())
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return size, digest.hexdigest()


def _discard(store: ObjectStore, keys: Iterable[str], *, at: datetime) -> None:
    """Take back the copies of a reply that failed; a store that is down keeps them, unreferenced."""
    for key in keys:
        with contextlib.suppress(Exception):
            store.discard(ObjectInfo(key=key, modified_at=at))


def _media_type(filename: str) -> str:
    """The media type the name implies; generic if unknown."""
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _chunks(stream: BinaryIO) -> Iterable[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def decide_request(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    archive: ObjectStore,
    release: ObjectStore,
    release_days: int,
    request_id: int,
    decision: str,
    reasons: str,
    basis: str | None = None,
    record_ids: Sequence[str] = (),
    redactions: Sequence[Redaction] = (),
) -> RequestView:
    """Answer the request (答复, art. 36). Released records are copied from the archive realm into
    the release realm (checked against their sealed SHA-256), redacted derivatives are stored there
    linked to their originals; the applicant may see them for `release_days` days."""
    # Decided and checked unlocked: the copies below may take minutes (footage), and no other
    # write should wait for them. The request is locked and checked again before anything is kept.
    row = _step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_decide,
        request_id=request_id,
        lock=False,
    )
    _open(row, DisclosureStatus.received)
    kind = DecisionType(_choice("decision", decision, DecisionType))
    reasons = _text("reasons", reasons)
    if kind in NEEDS_BASIS:
        basis = _choice("basis", basis, Basis)
    elif basis:
        raise Refused(f"basis: a {kind.value} reply withholds nothing, so it has no basis")
    chosen = list(dict.fromkeys(record_ids))
    if kind in RELEASING and not chosen and not redactions:
        raise Refused("record_ids: choose the records (or redacted derivatives) to release")
    if kind not in RELEASING and (chosen or redactions):
        raise Refused(f"record_ids: a {kind.value} reply releases nothing")
    if redactions and kind is not DecisionType.partly_released:
        raise Refused("redactions: redacted derivatives belong to a partly released reply (art. 37)")
    if both := sorted(set(chosen) & {r.record_id for r in redactions}):
        raise Refused(f"redactions: {', '.join(both)} would be released whole as well; choose one")
    releasing: list[tuple[CaseRecord, BundleFile, Redaction | None, str]] = []
    if chosen or redactions:
        bundle = latest_bundle(session, row.case_no) if row.case_no else None
        if bundle is None:
            raise Refused("record_ids: the request names no archived case to release from")
        wanted = [(rid, None) for rid in chosen] + [(r.record_id, r) for r in redactions]
        found = {record_id: catalogue.find_record(bundle, record_id) for record_id, _ in wanted}
        for record_id, pair in found.items():
            if pair is None:
                raise Refused(f"record_ids: {record_id!r} is not a record of case {row.case_no}")
        for record_id, redaction in wanted:
            case_record, stored = found[record_id]  # type: ignore[misc]  # None refused above
            resource = release_of(_resource(row), resource_of(bundle, case_record))
            require(
                session, subject=subject, action=Action.disclosure_release, resource=resource, context=context
            )
            filename = (
                _safe_filename(redaction.filename) if redaction else PurePosixPath(case_record.path).name
            )
            releasing.append((case_record, stored, redaction, filename))
    today = office_day(context.now)
    attempt, copied, items = secrets.token_hex(4), list[str](), list[ReleasedItem]()
    try:
        for index, (case_record, stored, redaction, filename) in enumerate(releasing, start=1):
            tags = {"realm": "release", "request": row.tracking_code, "record": case_record.record_id}
            key = _release_key(row, attempt, index, filename)
            if redaction is None:
                sealed = archive.read(stored.key, version_id=stored.version_id)
                size, sha256 = _copy(sealed, release, key, tags=tags, sealed_sha256=stored.sha256)
            else:
                tags["redacted"] = "yes"
                uploaded = _chunks(redaction.stream)
                size, sha256 = _copy(uploaded, release, key, tags=tags, limit=MAX_REDACTED_BYTES)
            copied.append(key)
            items.append(
                ReleasedItem(
                    bundle_id=stored.bundle_id,
                    record_id=case_record.record_id,
                    title=case_record.title,
                    filename=filename,
                    media_type=_media_type(filename),
                    key=key,
                    size=size,
                    sha256=sha256,
                    redacted=redaction is not None,
                    original_sha256=stored.sha256,
                    released_at=context.now,
                )
            )
        row = _step(
            session, subject=subject, context=context, action=Action.disclosure_decide, request_id=request_id
        )
        _open(row, DisclosureStatus.received)  # another reply may have come while copying
        row.items.extend(items)
        row.decision = kind.value
        row.decision_basis = basis
        row.reasons = reasons
        row.decided_on = today
        row.decided_by_id = subject.user_id
        row.status = DisclosureStatus.decided.value
        holds.close_for_request(session, request_id=row.id, now=context.now)
        row.release_until = context.now + timedelta(days=release_days) if releasing else None
        session.flush()
        _message(
            row, kind="decision", from_office=True, author=subject.username, body=reasons, at=context.now
        )
        _ledger(
            session,
            subject=subject,
            context=context,
            action=Action.disclosure_decide,
            row=row,
            detail={
                "decision": kind.value,
                "basis": basis,
                "due_on": str(row.due_on),
                "items": [
                    {
                        "record": i.record_id,
                        "sha256": i.sha256,
                        "original_sha256": i.original_sha256,
                        "redacted": i.redacted,
                    }
                    for i in row.items
                ],
            },
        )
    except BaseException as exc:
        # The caller rolls back the rows; the copies are taken back here, so a failed reply
        # leaves nothing in the release realm.
        _discard(release, copied, at=context.now)
        if isinstance(exc, SealMismatch):  # damage to a sealed record is itself an event to audit
            session.rollback()
            ledger.append(
                session,
                actor=subject.username,
                action=Action.disclosure_release.value,
                outcome="seal-mismatch",
                case_no=row.case_no,
                record_id=exc.record_id,
                source=context.source,
                at=context.now,
                detail={"request": request_id, "expected_sha256": exc.expected, "found_sha256": exc.found},
            )
            session.commit()
        raise
    return _view(row, calendar=calendar, today=today)


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


# --- reminders ---------------------------------------------------------------------------------


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
        mine = decide(subject, Action.disclosure_remind, _resource(row), context).allowed
        due = deadline(calendar, row)  # fresh, not the stored copy: holiday tables move deadlines
        if due is not None and mine:
            left = workdays.working_days_left(calendar, today=today, due_on=due.due_on)
            if left <= DUE_SOON_DAYS:
                facts = {"tracking_code": row.tracking_code, "days_left": left, "due_on": due.due_on}
                found.append(Notice("disclosure_due", row.id, None, row.case_no, now, facts))
        waiting = row.extension_status == "requested"
        if waiting and decide(subject, Action.disclosure_extension_decide, _extension(row), context).allowed:
            found.append(
                Notice(
                    "disclosure_extension",
                    row.id,
                    None,
                    row.case_no,
                    now,
                    {"tracking_code": row.tracking_code, "days": row.extension_days},
                )
            )
    return found
